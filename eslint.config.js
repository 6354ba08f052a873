// The JavaScript checker of the web pages (run by .ci/run as `npx eslint src/emolens/web/static/js`): eslint's
// recommended rules on native ES modules in the browser, and no page script publishes or reads a global of its own:
// modules import what they use. Chart (Chart.js) is the one vendored library read as a global; the analysis worker
// runs in a worker's scope.
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
      globals: { ...globals.browser, Chart: "readonly" },
    },
    rules: {
      "no-implicit-globals": "error",
      "no-restricted-syntax": ["error",
        { selector: "AssignmentExpression > MemberExpression.left[object.name=/^(window|globalThis|self)$/]",
          message: "Share through import/export, not window properties." }],
    },
  },
  { files: ["src/emolens/web/static/js/analysis_worker.js"], languageOptions: { globals: globals.worker } },
];
