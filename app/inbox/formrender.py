"""User-task forms: JSON Schema (Draft 2020-12) rendered server-side as phone-friendly HTML.

:func:`render_form` turns the form schema of a user task into HTML controls (no ``<form>`` tag
and no submit button: the page around it owns those and the CSRF token); :func:`parse_form`
turns the submitted fields back into typed JSON data for server-side validation with
``jsonschema``. Both walk the same schema, so input names always round-trip.

Conventions (what a process admin writes in ``forms/``)
    * Languages: ``title`` / ``description`` hold the English text, ``x-title-zh`` /
      ``x-description-zh`` the Chinese text (a plain string keeps the schema valid JSON
      Schema). Each language falls back to the other, then to the property name. Enum labels
      come from ``"oneOf": [{"const": …, "title": …, "x-title-zh": …}]`` or from
      ``x-enumNames`` (alias ``enumNames``) / ``x-enumNames-zh`` lists beside ``enum``.
    * UI hints (``ui_schema``, shaped like react-jsonschema-form's): per property
      ``{"ui:widget": "textarea" | "radio" | "checkboxes" | "tel" | "hidden",
      "ui:placeholder": …}``; ``"ui:order": ["a", "*", "z"]`` at any object level; nested
      objects and array items are keyed by property name / ``"items"``.
    * Formats: ``date`` → date picker, ``date-time`` → ``datetime-local`` (shown and parsed in
      ``timezone``, stored as RFC 3339 with offset), ``time``, ``email``, ``uri``.
    * Uploads: the keyword ``"x-upload": {"accept": ["image/jpeg", "image/png"],
      "maxSizeMB": 10, "maxItems": 6, "capture": "environment"}`` on a string (one file) or on
      an array of strings (several; the array's own ``maxItems`` wins). Values are upload
      references ``"upload:<id>"`` (see :mod:`app.uploads.refs`), never file contents. With
      JavaScript the file goes to ``upload_url`` (``POST /api/v1/uploads?project_id=…``) as
      soon as it is picked; without it the file input ``<name>__file`` travels with the form
      (``enctype="multipart/form-data"``) and ``parse_form(..., files=, store=)`` stores it.
    * ``readOnly`` properties are shown as text and never read back from the form.
    * Input names are dotted paths (``address.city``); array items repeat the array's name, and
      errors for item *i* use the path ``materials.<i>``. Errors whose path matches no field are
      listed above the form, so none is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from werkzeug.datastructures import FileStorage, MultiDict

from app.uploads.refs import parse_upload_ref

Schema = Mapping[str, Any]
_MISSING: Any = object()
_SCRIPT = Path(__file__).resolve().parent.parent / "templates" / "forms" / "enhance.js"

_MESSAGES: dict[str, tuple[str, str]] = {
    "add": ("添加一项", "Add another"),
    "remove": ("删除", "Remove"),
    "choose": ("请选择", "Choose…"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "file": ("文件", "File"),
    "empty": ("—", "—"),
    "summary": ("请检查以下内容", "Please check the following"),
    "uploading": ("正在上传…", "Uploading…"),
    "upload_failed": ("上传失败", "Upload failed"),
    "too_big": ("文件太大", "File too large"),
    "too_many": ("文件数量超出上限", "Too many files"),
    "upload_hint": ("最多 {n} 个文件，每个不超过 {mb} MB", "Up to {n} files, {mb} MB each"),
}


class _Ctx:
    def __init__(self, errors: Mapping[str, str], zh: bool, upload_url: str | None,
                 file_url: Callable[[int], str], tz: ZoneInfo) -> None:
        self.errors = dict(errors)
        self.used: set[str] = set()
        self.zh = zh
        self.upload_url = upload_url
        self.file_url = file_url
        self.tz = tz
        self.dynamic = False  # arrays or uploads present: add the small script

    def msg(self, key: str) -> str:
        zh, en = _MESSAGES[key]
        return zh if self.zh else en

    def error(self, path: str) -> str | None:
        if path in self.errors:
            self.used.add(path)
            return self.errors[path]
        return None

    def errors_under(self, path: str) -> list[str]:
        """The error at ``path`` and every error below it (widgets that render as one)."""
        found = [k for k in self.errors if k == path or k.startswith(path + ".")]
        self.used.update(found)
        return [self.errors[k] for k in sorted(found)]


def is_zh(locale: str) -> bool:
    return locale.lower().replace("-", "_").startswith("zh")


def localized(schema: Schema, key: str, locale: str, default: str = "") -> str:
    """``title`` / ``description`` (etc.) of ``schema`` in ``locale``, falling back."""
    en, zh = schema.get(key), schema.get(f"x-{key}-zh")
    first, second = (zh, en) if is_zh(locale) else (en, zh)
    for text in (first, second):
        if isinstance(text, str) and text:
            return text
    return default


def _t(schema: Schema, key: str, ctx: _Ctx, default: str = "") -> str:
    return localized(schema, key, "zh_CN" if ctx.zh else "en", default)


# --- small HTML builders (every value escaped) ---------------------------------------------

_NAME = re.compile(r"[a-z][a-z0-9_-]*")


def _name(name: str) -> Markup:
    """A tag or attribute name: always one of ours, checked so that it can be trusted."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a tag or attribute name: {name!r}")
    return Markup(name)  # noqa: S704 - checked just above


def _attrs(attrs: Mapping[str, Any]) -> Markup:
    parts = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(Markup(" ") + _name(name))
        else:
            parts.append(Markup(' {}="{}"').format(_name(name), value))
    return Markup("").join(parts)


def _tag(name: str, attrs: Mapping[str, Any] | None = None, content: Any = None) -> Markup:
    open_tag = Markup("<{}{}>").format(_name(name), _attrs(attrs or {}))
    if content is None and name in {"input", "img", "br"}:
        return open_tag
    body = Markup("").join(content) if isinstance(content, list) else escape(content or "")
    return open_tag + body + Markup("</{}>").format(_name(name))


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id(path: str, suffix: str = "") -> str:
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", path) + suffix


def _type(schema: Schema) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _options(schema: Schema, ctx: _Ctx) -> list[tuple[Any, str]] | None:
    for key in ("oneOf", "anyOf"):
        choices = schema.get(key)
        if isinstance(choices, list) and choices and all(
            isinstance(c, dict) and "const" in c for c in choices
        ):
            return [(c["const"], _t(c, "title", ctx, _encode(c["const"]))) for c in choices]
    enum = schema.get("enum")
    if not isinstance(enum, list):
        return None
    en = schema.get("x-enumNames") or schema.get("enumNames") or []
    zh = schema.get("x-enumNames-zh") or []
    names = (zh or en) if ctx.zh else (en or zh)
    return [(v, str(names[i]) if i < len(names) else _encode(v)) for i, v in enumerate(enum)]


def _upload_conf(schema: Schema) -> dict[str, Any] | None:
    conf = schema.get("x-upload")
    return dict(conf) if isinstance(conf, dict) else None


# --- rendering --------------------------------------------------------------------------------

def render_form(
    schema: dict[str, Any],
    ui_schema: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    locale: str = "zh_CN",
    upload_url: str | None = None,
    *,
    file_url: Callable[[int], str] | None = None,
    timezone: str = "Asia/Shanghai",
) -> Markup:
    """HTML controls for ``schema`` filled with ``data``, with ``errors`` next to their fields."""
    ctx = _Ctx(errors or {}, is_zh(locale), upload_url,
               file_url or (lambda upload_id: f"/uploads/{upload_id}"), ZoneInfo(timezone))
    body = _object_fields(schema, ui_schema or {}, data or {}, "", ctx)
    leftover = [(k, v) for k, v in (errors or {}).items() if k not in ctx.used]
    parts: list[Markup] = []
    if leftover:
        items = [_tag("li", {"data-field": k}, f"{k}: {v}" if k else v) for k, v in leftover]
        parts.append(_tag("div", {"class": "flash error ef-summary", "role": "alert"},
                          [_tag("p", {}, ctx.msg("summary")), _tag("ul", {}, items)]))
    parts.append(body)
    if ctx.dynamic:
        # Our own static file, no data in it.
        parts.append(Markup("<script>") + Markup(_script()) + Markup("</script>"))  # noqa: S704
    texts = {f"data-msg-{k}": ctx.msg(k)
             for k in ("uploading", "upload_failed", "too_big", "too_many", "remove")}
    return _tag("div", {"class": "ef-form", **texts}, parts)


@lru_cache(maxsize=1)
def _script() -> str:
    # Static text written by us (no data inside); "</" cannot occur in it.
    return _SCRIPT.read_text(encoding="utf-8")


def _ordered(props: Mapping[str, Any], order: Any) -> list[str]:
    if not isinstance(order, list):
        return list(props)
    listed = [k for k in order if k in props]
    rest = [k for k in props if k not in listed]
    if "*" in order:
        at = order.index("*")
        before = [k for k in order[:at] if k in props]
        return before + rest + [k for k in order[at + 1:] if k in props]
    return listed + rest


def _object_fields(schema: Schema, ui: Mapping[str, Any], data: Mapping[str, Any],
                   prefix: str, ctx: _Ctx) -> Markup:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    fields = []
    for key in _ordered(props, ui.get("ui:order")):
        prop = props[key]
        if not isinstance(prop, dict):
            continue
        sub_ui = _dict(ui.get(key))
        value = data.get(key, prop.get("default", _MISSING)) if isinstance(data, Mapping) \
            else _MISSING
        fields.append(_field(str(key), prop, sub_ui, value, prefix + str(key),
                             key in required, ctx))
    return Markup("").join(fields)


def _label(schema: Schema, key: str, path: str, required: bool, ctx: _Ctx,
           tag: str = "label") -> Markup:
    text = _t(schema, "title", ctx, key)
    mark = _tag("span", {"class": "ef-req", "aria-hidden": "true"}, "*") if required else ""
    attrs = {"for": _id(path)} if tag == "label" else {}
    return _tag(tag, attrs, [escape(text), Markup(" ") if mark else Markup(""), mark])


def _help_and_errors(schema: Schema, path: str, messages: Iterable[str], ctx: _Ctx,
                     ui: Mapping[str, Any] | None = None) -> Markup:
    parts = []
    text = _t(schema, "description", ctx) or str((ui or {}).get("ui:help") or "")
    if text:
        parts.append(_tag("p", {"class": "ef-help muted", "id": _id(path, "-help")}, text))
    for i, message in enumerate(messages):
        parts.append(_tag("p", {"class": "error", "data-field": path,
                                "id": _id(path, "-err") if i == 0 else None}, message))
    return Markup("").join(parts)


def _described(schema: Schema, path: str, has_error: bool, ctx: _Ctx,
               ui: Mapping[str, Any] | None = None) -> dict[str, Any]:
    ids = []
    if _t(schema, "description", ctx) or (ui or {}).get("ui:help"):
        ids.append(_id(path, "-help"))
    if has_error:
        ids.append(_id(path, "-err"))
    return {"aria-describedby": " ".join(ids) or None, "aria-invalid": "true" if has_error
            else None}


def _wrap(path: str, content: list[Markup], has_error: bool, extra: str = "",
          tag: str = "div") -> Markup:
    cls = "field" + (f" {extra}" if extra else "") + (" has-error" if has_error else "")
    return _tag(tag, {"class": cls, "data-field": path}, content)


def _field(key: str, schema: Schema, ui: Mapping[str, Any], value: Any, path: str,
           required: bool, ctx: _Ctx) -> Markup:
    kind = _type(schema)
    if schema.get("readOnly") or ui.get("ui:readonly"):
        return _readonly(key, schema, ui, value, path, ctx)
    if _upload_conf(schema) is not None:
        return _upload(key, schema, value, path, required, ctx)
    if kind == "object" and isinstance(schema.get("properties"), dict):
        sub = value if isinstance(value, Mapping) else {}
        messages = [m for m in [ctx.error(path)] if m]
        return _wrap(path, [_label(schema, key, path, required, ctx, "legend"),
                            _help_and_errors(schema, path, messages, ctx, ui),
                            _object_fields(schema, ui, sub, path + ".", ctx)],
                     bool(messages), "ef-object", "fieldset")
    if kind == "array":
        return _array(key, schema, ui, value, path, required, ctx)
    options = _options(schema, ctx)
    if options is not None:
        return _choice(key, schema, ui, value, path, required, options, ctx)
    if kind == "boolean":
        return _boolean(key, schema, ui, value, path, required, ctx)
    message = ctx.error(path)
    control = _input(schema, ui, value, path, _id(path), required, message is not None, ctx)
    return _wrap(path, [_label(schema, key, path, required, ctx), control,
                        _help_and_errors(schema, path, [message] if message else [], ctx, ui)],
                 message is not None, "ef-" + ("hidden" if ui.get("ui:widget") == "hidden"
                                              else (kind or "string")))


def _html_pattern(pattern: str) -> str:
    # HTML anchors the whole value; JSON Schema searches. Keep the JSON Schema meaning.
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern
    return f".*(?:{pattern}).*"


def _display_value(schema: Schema, value: Any, ctx: _Ctx) -> str:
    if value is _MISSING or value is None:
        return ""
    if schema.get("format") == "date-time" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(ctx.tz)
        return moment.strftime("%Y-%m-%dT%H:%M" if moment.second == 0 else "%Y-%m-%dT%H:%M:%S")
    return _encode(value)


def _input(schema: Schema, ui: Mapping[str, Any], value: Any, path: str, element_id: str,
           required: bool, has_error: bool, ctx: _Ctx, label: str | None = None) -> Markup:
    kind = _type(schema)
    widget = ui.get("ui:widget")
    attrs: dict[str, Any] = {"id": element_id, "name": path, "required": required,
                             "aria-label": label,
                             "placeholder": ui.get("ui:placeholder")}
    attrs.update(_described(schema, path, has_error, ctx, ui) if label is None else
                 {"aria-invalid": "true" if has_error else None})
    text = _display_value(schema, value, ctx)
    if kind in {"integer", "number"}:
        attrs.update({"type": "number", "inputmode": "numeric" if kind == "integer"
                      else "decimal", "value": text,
                      "step": schema.get("multipleOf") or (1 if kind == "integer" else "any")})
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is None and kind == "integer" and isinstance(schema.get("exclusiveMinimum"), int):
            low = schema["exclusiveMinimum"] + 1
        if high is None and kind == "integer" and isinstance(schema.get("exclusiveMaximum"), int):
            high = schema["exclusiveMaximum"] - 1
        attrs.update({"min": low, "max": high})
        return _tag("input", attrs)
    attrs.update({"minlength": schema.get("minLength"), "maxlength": schema.get("maxLength")})
    if widget == "textarea":
        attrs.update({"rows": ui.get("ui:rows", 4)})
        return _tag("textarea", attrs, text)
    input_type = {"date": "date", "date-time": "datetime-local", "time": "time",
                  "email": "email", "uri": "url"}.get(str(schema.get("format")), "text")
    if widget in {"tel", "hidden", "password"}:
        input_type = str(widget)
    attrs.update({"type": input_type, "value": text,
                  "inputmode": "tel" if input_type == "tel" else None,
                  "pattern": _html_pattern(schema["pattern"])
                  if isinstance(schema.get("pattern"), str) else None})
    return _tag("input", attrs)


def _boolean(key: str, schema: Schema, ui: Mapping[str, Any], value: Any, path: str,
             required: bool, ctx: _Ctx) -> Markup:
    message = ctx.error(path)
    messages = [message] if message else []
    if ui.get("ui:widget") == "radio":
        options = [(True, ctx.msg("yes")), (False, ctx.msg("no"))]
        return _choice(key, schema, ui, value, path, required, options, ctx, messages)
    box = _tag("input", {"type": "checkbox", "id": _id(path), "name": path, "value": "true",
                         "checked": value is True,
                         **_described(schema, path, message is not None, ctx, ui)})
    # The hidden "false" makes an unchecked box arrive as False rather than as nothing.
    hidden = _tag("input", {"type": "hidden", "name": path, "value": "false"})
    mark = _tag("span", {"class": "ef-req", "aria-hidden": "true"}, "*") if required else ""
    label = _tag("label", {"class": "check", "for": _id(path)},
                 [box, Markup(" "), escape(_t(schema, "title", ctx, key)),
                  Markup(" ") + mark if mark else Markup("")])
    return _wrap(path, [hidden, label, _help_and_errors(schema, path, messages, ctx, ui)],
                 message is not None, "ef-boolean")


def _choice(key: str, schema: Schema, ui: Mapping[str, Any], value: Any, path: str,
            required: bool, options: list[tuple[Any, str]], ctx: _Ctx,
            messages: list[str] | None = None) -> Markup:
    if messages is None:
        messages = [m for m in [ctx.error(path)] if m]
    has_error = bool(messages)
    current = _encode(value) if value is not _MISSING else None
    if ui.get("ui:widget") == "radio" or _type(schema) == "boolean":
        radios = [
            _tag("label", {"class": "check"}, [
                _tag("input", {"type": "radio", "name": path, "id": _id(path, f"-{i}"),
                               "value": _encode(v), "required": required,
                               "checked": current == _encode(v)}),
                Markup(" "), escape(text)])
            for i, (v, text) in enumerate(options)
        ]
        return _wrap(path, [_label(schema, key, path, required, ctx, "legend"),
                            _tag("div", {"class": "checks", "role": "radiogroup",
                                         **_described(schema, path, has_error, ctx, ui)},
                                 radios),
                            _help_and_errors(schema, path, messages, ctx, ui)],
                     has_error, "ef-radio", "fieldset")
    opts = [_tag("option", {"value": ""}, ctx.msg("choose"))]
    opts += [_tag("option", {"value": _encode(v), "selected": current == _encode(v)}, text)
             for v, text in options]
    select = _tag("select", {"id": _id(path), "name": path, "required": required,
                             **_described(schema, path, has_error, ctx, ui)}, opts)
    return _wrap(path, [_label(schema, key, path, required, ctx), select,
                        _help_and_errors(schema, path, messages, ctx, ui)],
                 has_error, "ef-select")


def _array(key: str, schema: Schema, ui: Mapping[str, Any], value: Any, path: str,
           required: bool, ctx: _Ctx) -> Markup:
    items = _dict(schema.get("items"))
    item_ui = _dict(ui.get("items"))
    values = list(value) if isinstance(value, list) else []
    options = _options(items, ctx)
    if options is not None:  # a set of choices: checkboxes
        messages = ctx.errors_under(path)
        chosen = {_encode(v) for v in values}
        boxes = [
            _tag("label", {"class": "check"}, [
                _tag("input", {"type": "checkbox", "name": path, "id": _id(path, f"-{i}"),
                               "value": _encode(v), "checked": _encode(v) in chosen}),
                Markup(" "), escape(text)])
            for i, (v, text) in enumerate(options)
        ]
        return _wrap(path, [_label(schema, key, path, required, ctx, "legend"),
                            _tag("div", {"class": "checks"}, boxes),
                            _help_and_errors(schema, path, messages, ctx, ui)],
                     bool(messages), "ef-checkboxes", "fieldset")
    ctx.dynamic = True
    limit = schema.get("maxItems")
    count = max(len(values) + 1, int(schema.get("minItems") or 0), 1)
    if isinstance(limit, int):
        count = max(min(count, limit), len(values))
    title = _t(schema, "title", ctx, key)
    own = [m for m in [ctx.error(path)] if m]
    rows = []
    for i in range(count):
        item_value = values[i] if i < len(values) else _MISSING
        rows.append(_array_row(items, item_ui, item_value, path, i, title,
                               required and i == 0, ctx))
    template = _tag("template", {"class": "ef-item-template"},
                    [_array_row(items, item_ui, _MISSING, path, None, title, False, ctx)])
    add = _tag("button", {"type": "button", "class": "small ef-add", "hidden": True},
               "+ " + ctx.msg("add"))
    any_error = bool(own) or any(k.startswith(path + ".") for k in ctx.errors)
    return _tag("fieldset", {"class": "field ef-array" + (" has-error" if any_error else ""),
                             "data-field": path, "data-max-items": limit}, [
        _label(schema, key, path, required, ctx, "legend"),
        _help_and_errors(schema, path, own, ctx, ui),
        _tag("div", {"class": "ef-items"}, rows), template, add,
    ])


def _array_row(items: Schema, ui: Mapping[str, Any], value: Any, path: str, index: int | None,
               title: str, required: bool, ctx: _Ctx) -> Markup:
    message = ctx.error(f"{path}.{index}") if index is not None else None
    suffix = f"-{index}" if index is not None else "-new"
    label = f"{title} {index + 1}" if index is not None else title
    control = _input(items, ui, value, path, _id(path, suffix), required, message is not None,
                     ctx, label=label)
    remove = _tag("button", {"type": "button", "class": "small link ef-remove", "hidden": True},
                  ctx.msg("remove"))
    parts = [_tag("div", {"class": "ef-item-row"}, [control, remove])]
    if message:
        parts.append(_tag("p", {"class": "error", "data-field": f"{path}.{index}"}, message))
    return _tag("div", {"class": "ef-item" + (" has-error" if message else "")}, parts)


def _upload(key: str, schema: Schema, value: Any, path: str, required: bool,
            ctx: _Ctx) -> Markup:
    conf = _upload_conf(schema) or {}
    many = _type(schema) == "array"
    refs = [v for v in (value if isinstance(value, list) else [value])
            if parse_upload_ref(v) is not None]
    limit = schema.get("maxItems", conf.get("maxItems")) if many else 1
    accept = conf.get("accept") or []
    images = bool(accept) and all(str(a).startswith("image/") for a in accept)
    size_mb = conf.get("maxSizeMB")
    messages = ctx.errors_under(path)
    ctx.dynamic = True
    listed = [_upload_item(ref, path, images, ctx) for ref in refs]
    picker = _tag("input", {
        "type": "file", "id": _id(path), "name": f"{path}__file",
        "accept": ",".join(str(a) for a in accept) or None,
        "capture": conf.get("capture"), "multiple": many and (limit is None or limit > 1),
        "required": required and not refs,
        **_described(schema, path, bool(messages), ctx)})
    hint = ""
    if many and limit and size_mb:
        hint = ctx.msg("upload_hint").format(n=limit, mb=size_mb)
    return _tag("div", {
        "class": "field ef-upload" + (" has-error" if messages else ""), "data-field": path,
        "data-upload-url": ctx.upload_url, "data-max-items": limit,
        "data-max-bytes": int(float(size_mb) * 1024 * 1024) if size_mb else None,
        "data-images": "true" if images else None, "data-name": path}, [
        _label(schema, key, path, required, ctx),
        _tag("ul", {"class": "ef-upload-list"}, listed), picker,
        _tag("p", {"class": "ef-help muted"}, hint) if hint else Markup(""),
        _tag("p", {"class": "ef-upload-status muted", "aria-live": "polite"}, ""),
        _help_and_errors(schema, path, messages, ctx),
    ])


def _upload_item(ref: str, path: str, images: bool, ctx: _Ctx) -> Markup:
    upload_id = parse_upload_ref(ref) or 0
    url = ctx.file_url(upload_id)
    shown = (_tag("img", {"src": url, "alt": f"{ctx.msg('file')} #{upload_id}",
                          "class": "ef-thumb", "loading": "lazy"}) if images
             else _tag("span", {}, f"{ctx.msg('file')} #{upload_id}"))
    return _tag("li", {"class": "ef-upload-item"}, [
        _tag("input", {"type": "hidden", "name": path, "value": ref}),
        _tag("a", {"href": url, "target": "_blank", "rel": "noopener"}, [shown]),
        _tag("label", {"class": "check ef-upload-remove"}, [
            _tag("input", {"type": "checkbox", "name": f"{path}__remove", "value": ref}),
            Markup(" "), escape(ctx.msg("remove"))]),
    ])


def _readonly_text(schema: Schema, value: Any, ctx: _Ctx) -> Markup:
    if value is _MISSING or value is None or value == "" or value == []:
        return escape(ctx.msg("empty"))
    if _upload_conf(schema) is not None:
        refs = value if isinstance(value, list) else [value]
        links = [_tag("a", {"href": ctx.file_url(parse_upload_ref(r) or 0)},
                      f"{ctx.msg('file')} #{parse_upload_ref(r)}")
                 for r in refs if parse_upload_ref(r) is not None]
        return Markup(" ").join(links)
    if isinstance(value, bool):
        return escape(ctx.msg("yes" if value else "no"))
    if isinstance(value, list):
        items = _dict(schema.get("items"))
        return _tag("ul", {"class": "plain"},
                    [_tag("li", {}, [_readonly_text(items, v, ctx)]) for v in value])
    if isinstance(value, Mapping):
        props = schema.get("properties") or {}
        rows = []
        for k, v in value.items():
            sub = _dict(props.get(k))
            rows += [_tag("dt", {}, _t(sub, "title", ctx, str(k))),
                     _tag("dd", {}, [_readonly_text(sub, v, ctx)])]
        return _tag("dl", {}, rows)
    options = _options(schema, ctx)
    if options is not None:
        for option, text in options:
            if _encode(option) == _encode(value):
                return escape(text)
    return escape(_display_value(schema, value, ctx).replace("T", " ")
                  if schema.get("format") == "date-time" else _encode(value))


def _readonly(key: str, schema: Schema, ui: Mapping[str, Any], value: Any, path: str,
              ctx: _Ctx) -> Markup:
    messages = ctx.errors_under(path)
    return _wrap(path, [
        _tag("span", {"class": "ef-label"}, _t(schema, "title", ctx, key)),
        _tag("div", {"class": "ef-value"}, [_readonly_text(schema, value, ctx)]),
        _help_and_errors(schema, path, messages, ctx, ui),
    ], bool(messages), "ef-readonly")


# --- parsing ----------------------------------------------------------------------------------

def parse_form(
    schema: dict[str, Any],
    form: MultiDict[str, str],
    *,
    files: MultiDict[str, FileStorage] | None = None,
    store: Callable[[str, FileStorage], str] | None = None,
    timezone: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Typed JSON data from the fields :func:`render_form` produced; empty fields are omitted.

    Values that do not convert (``"abc"`` for an integer) are kept as strings so that schema
    validation names the field. ``store(path, file)`` saves a file sent without JavaScript and
    returns its ``"upload:<id>"`` reference. ``readOnly`` properties are never read.
    """
    return _parse_object(schema, form, "", files, store, ZoneInfo(timezone))


def _parse_object(schema: Schema, form: MultiDict[str, str], prefix: str,
                  files: MultiDict[str, FileStorage] | None,
                  store: Callable[[str, FileStorage], str] | None, tz: ZoneInfo
                  ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict) or prop.get("readOnly"):
            continue
        path = f"{prefix}{key}"
        value = _parse_value(prop, form, path, files, store, tz)
        if value is not _MISSING:
            out[key] = value
    return out


def _parse_value(schema: Schema, form: MultiDict[str, str], path: str,
                 files: MultiDict[str, FileStorage] | None,
                 store: Callable[[str, FileStorage], str] | None, tz: ZoneInfo) -> Any:
    kind = _type(schema)
    if _upload_conf(schema) is not None:
        removed = set(form.getlist(f"{path}__remove"))
        refs = [v for v in form.getlist(path) if v and v not in removed]
        if files is not None and store is not None:
            refs += [store(path, f) for f in files.getlist(f"{path}__file") if f and f.filename]
        if kind == "array":
            return refs or _MISSING
        return refs[-1] if refs else _MISSING
    if kind == "object" and isinstance(schema.get("properties"), dict):
        sub = _parse_object(schema, form, path + ".", files, store, tz)
        return sub or _MISSING
    if kind == "array":
        items = _dict(schema.get("items"))
        parsed = [_scalar(items, raw, tz) for raw in form.getlist(path)]
        kept = [v for v in parsed if v is not _MISSING]
        return kept or _MISSING
    raw = form.getlist(path)
    if not raw:
        return _MISSING
    return _scalar(schema, raw[-1], tz)


def _scalar(schema: Schema, raw: str, tz: ZoneInfo) -> Any:
    text = raw.replace("\r\n", "\n").strip()
    if text == "":
        return _MISSING
    options = _options_raw(schema)
    if options is not None:
        for option in options:
            if _encode(option) == text:
                return option
        return text
    kind = _type(schema)
    if kind == "boolean":
        return {"true": True, "on": True, "1": True, "false": False, "off": False,
                "0": False}.get(text.lower(), text)
    if kind == "integer":
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else text
    if kind == "number":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        if not number.is_finite():
            return text
        return int(number) if number == number.to_integral_value() and "." not in text \
            and "e" not in text.lower() else float(number)
    if schema.get("format") == "date-time":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.isoformat()
    return text


def _options_raw(schema: Schema) -> list[Any] | None:
    for key in ("oneOf", "anyOf"):
        choices = schema.get(key)
        if isinstance(choices, list) and choices and all(
            isinstance(c, dict) and "const" in c for c in choices
        ):
            return [c["const"] for c in choices]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None
