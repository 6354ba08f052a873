// The JavaScript checker of the web pages (run by .ci/run as `npx eslint src/emolens/web/static/js`): eslint's
// recommended rules on native ES modules in the browser, and no page script publishes or reads a global of its own:
// modules import what they use. Chart (Chart.js) and ort (onnxruntime-web) are the vendored libraries' globals.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["src/emolens/web/static/vendor/**", "node_modules/**"] },
  js.configs.recommended,
  {
    files: ["src/emolens/web/static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: { ...globals.browser, Chart: "readonly", ort: "readonly" },
    },
    rules: {
      "no-implicit-globals": "error",
      "no-restricted-syntax": ["error",
        { selector: "AssignmentExpression > MemberExpression.left[object.name=/^(window|globalThis|self)$/]",
          message: "Share through import/export, not window properties." }],
    },
  },
];
