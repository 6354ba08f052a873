"""The OpenAPI 3.1 document: paths written here, schemas generated from :mod:`emolens.web.schemas`."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from emolens import __version__
from emolens.web import schemas

REF = "#/components/schemas/{model}"
ANALYSIS_ID = {"name": "analysis_id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
RESPONSES = (schemas.AnalyzeResponse, schemas.StatsResponse, schemas.AnalysesPage, schemas.SettingsOut,
             schemas.Health, schemas.ErrorOut, schemas.BrowserModelOut, schemas.LiveResults,
             schemas.LiveResultsOut)


def _query(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Query parameters from a parameter model's fields."""
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": prop,
             "description": prop.pop("description", "")} for name, prop in schema["properties"].items()]


def _ok(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF.format(
        model=model.__name__)}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ok(schemas.ErrorOut, "error, with a message for the user") for status in statuses}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once)."""
    _, defs = models_json_schema([(model, "serialization") for model in RESPONSES], ref_template=REF)
    paths = _paths()
    for operation in (operation for path in paths.values() for operation in path.values()):
        operation["responses"]["414"] = _ok(schemas.ErrorOut, "request line (path and query) over 8 KB, "
                                                              "answered by the server before the app")
    return {
        "openapi": "3.1.0",
        "info": {"title": "emolens API", "version": __version__,
                 "description": "Face detection and emotion recognition. When the server has an API token, "
                                "every call but health and this document needs `Authorization: Bearer <token>`."},
        "components": {"schemas": defs["$defs"],
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"token": []}],
        "paths": paths,
    }


def _paths() -> dict[str, Any]:
    analyze_fields = schemas.AnalyzeParams.model_json_schema(ref_template=REF)["properties"]
    image = {"type": "string", "contentMediaType": "application/octet-stream",
             "description": "JPEG, PNG, WebP, ... (checked by content)"}
    return {
        "/api/v1/analyze": {"post": {
            "summary": "Analyse one image",
            "description": "Send multipart/form-data with field `image` (other fields as below), or the raw "
                           "image as the body with the fields as query parameters.",
            "parameters": _query(schemas.AnalyzeParams),
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["image"],
                                                   "properties": {"image": image, **analyze_fields}}},
                "image/*": {"schema": image}, "application/octet-stream": {"schema": image}}},
            "responses": {"200": _ok(schemas.AnalyzeResponse, "faces found"),
                          **_errors(400, 401, 403, 408, 413, 415, 503)}}},
        "/api/v1/stats": {"get": {
            "summary": "Aggregated emotions over a time range",
            "parameters": _query(schemas.StatsParams),
            "responses": {"200": _ok(schemas.StatsResponse, "statistics"), **_errors(400, 401)}}},
        "/api/v1/analyses": {"get": {
            "summary": "Recent analyses, newest first",
            "parameters": _query(schemas.AnalysesParams),
            "responses": {"200": _ok(schemas.AnalysesPage, "one page"), **_errors(400, 401)}}},
        "/api/v1/analyses.csv": {"get": {
            "summary": "Every analysis matching the filters, newest first, as CSV (streamed)",
            "description": "Columns: id, created_at, filename, source, session, frames, faces, elapsed_ms, tta, "
                           "class_balance (empty when not recorded), model, detector, then the faces per top emotion, "
                           "one column per label of the model. A text cell starting with =, +, -, @, tab or CR (and "
                           "not a number) gets a leading ' so that spreadsheets show it, never run it.",
            "parameters": _query(schemas.RangeParams),
            "responses": {"200": {"description": "CSV with a header row",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **_errors(400, 401)}}},
        "/api/v1/analyses/{analysis_id}/image": {"get": {
            "summary": "The uploaded image of one analysis (only stored when image storage is on)",
            "parameters": [ANALYSIS_ID],
            "responses": {"200": {"description": "the image as uploaded", "content": {"image/*": {"schema": image}}},
                          **_errors(401, 404)}}},
        "/api/v1/analyses/{analysis_id}/thumbnail": {"get": {
            "summary": "A small JPEG of the uploaded image (longest side 160 px; only when thumbnail storage is on)",
            "parameters": [ANALYSIS_ID],
            "responses": {"200": {"description": "JPEG", "content": {"image/jpeg": {"schema": image}}},
                          **_errors(401, 404)}}},
        "/api/v1/settings": {"get": {
            "summary": "What a page may offer: allowed detectors, the default TTA, what is kept",
            "responses": {"200": _ok(schemas.SettingsOut, "settings"), **_errors(401)}}},
        **_browser_paths(),
        "/api/v1/health": {"get": {
            "summary": "Model, detector, database and version", "security": [{}],
            "responses": {"200": _ok(schemas.Health, "healthy"), "503": _ok(schemas.Health, "degraded")}}},
        "/api/v1/openapi.json": {"get": {
            "summary": "This document", "security": [{}],
            "responses": {"200": {"description": "OpenAPI 3.1 document"}}}},
    }


def _browser_paths() -> dict[str, Any]:
    """The calls of the live page's browser mode."""
    return {
        "/api/v1/model": {"get": {
            "summary": "The emotion model and detector as the live page runs them in the browser, with the "
                       "calibration of the class balance asked for",
            "parameters": _query(schemas.ModelParams),
            "responses": {"200": _ok(schemas.BrowserModelOut, "model description"), **_errors(400, 401)}}},
        "/api/v1/model.onnx": {"get": {
            "summary": "The emotion model file the browser runs (ETag and Last-Modified: conditional requests get 304)",
            "parameters": [{"name": "v", "in": "query", "required": False, "schema": {"type": "string"},
                            "description": "The file's version, as GET /api/v1/model gives it (ignored)."}],
            "responses": {"200": {"description": "ONNX model", "content": {"application/octet-stream": {
                "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
                          "304": {"description": "not modified"}, **_errors(401)}}},
        "/api/v1/live/results": {"post": {
            "summary": "Add results computed in the browser (no image) to a live session's window",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "$ref": REF.format(model="LiveResults")}}}},
            "responses": {"200": _ok(schemas.LiveResultsOut, "added"), **_errors(400, 401, 403, 413, 415, 503)}}},
    }
