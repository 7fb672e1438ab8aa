"""Message templates: loading, checking at deploy time and rendering.

Layout (see ``notifications/README.md``): ``notifications/<flow>/events.json`` declares each
event's variables and sample data; ``notifications/<flow>/<event>.<channel>.<lang>.txt`` holds
one template (channel ``sms`` | ``email`` | ``inapp``, language ``zh_CN`` | ``en``). Templates
are Jinja, rendered in a sandbox with ``StrictUndefined``; a missing language falls back to
``zh_CN``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from app.engine.bundle import Problem

ROOT = "notifications/"
LANGUAGES = ("zh_CN", "en")
FALLBACK_LANGUAGE = "zh_CN"
TEMPLATE_CHANNELS = ("sms", "email", "inapp")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
TEMPLATE_RE = re.compile(
    r"^notifications/(?P<flow>[a-z][a-z0-9_]*)/(?P<event>[a-z][a-z0-9_]*)"
    r"\.(?P<channel>[a-z]+)\.(?P<lang>[A-Za-z_]+)\.txt$"
)
EVENTS_RE = re.compile(r"^notifications/(?P<flow>[a-z][a-z0-9_]*)/events\.json$")
SUBJECT_RE = re.compile(r"^Subject:[ \t]*(?P<subject>.*\S)[ \t]*$")

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                            lstrip_blocks=True, keep_trailing_newline=False)


class TemplateRenderError(Exception):
    """Rendering failed (missing variable, unknown event, template error)."""


@dataclass(frozen=True)
class EventSpec:
    flow: str
    name: str
    variables: tuple[str, ...]
    sample: dict[str, Any]
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.flow}.{self.name}"


@dataclass(frozen=True)
class Rendered:
    channel: str
    language: str
    body: str
    subject: str | None = None  # e-mail subject or in-app title
    path: str = ""


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # GSM-7 | UCS-2
    units: int
    segments: int


@dataclass
class TemplateReport:
    problems: list[Problem] = field(default_factory=list)  # fail the deployment
    warnings: list[Problem] = field(default_factory=list)  # shown, do not fail


def normalise_language(code: str | None) -> str:
    """``en_US`` → ``en``; anything else, or nothing, → ``zh_CN``."""
    return "en" if code and code.lower().startswith("en") else FALLBACK_LANGUAGE


def sms_length(text: str) -> SmsLength:
    """Characters and segments as carriers count them (GSM-7 160/153, UCS-2 70/67)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return SmsLength(encoding, units, segments)


def _split(channel: str, text: str) -> tuple[str | None, str]:
    text = text.strip()
    if channel == "sms":
        return None, text
    first, _, rest = text.partition("\n")
    if channel == "email":
        match = SUBJECT_RE.match(first.strip())
        if not match:
            raise TemplateRenderError('an e-mail template must start with "Subject: ..."')
        return match.group("subject"), rest.strip()
    return first.strip(), rest.strip()  # inapp: the first line is the title


class TemplateStore:
    """Parsed templates of one set of files (the notifications/ folder or a deployment)."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.events: dict[str, EventSpec] = {}
        self.sources: dict[tuple[str, str, str], tuple[str, str]] = {}
        #: Compiled templates by path, compiled on first use (a store is immutable).
        self._compiled: dict[str, Template] = {}
        for path, data in files.items():
            found = EVENTS_RE.match(path)
            if found:
                for spec in _parse_events(found.group("flow"), path, data, []):
                    self.events[spec.full_name] = spec
        for path, data in files.items():
            found = TEMPLATE_RE.match(path)
            if not found:
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            key = (f"{found.group('flow')}.{found.group('event')}", found.group("channel"),
                   found.group("lang"))
            self.sources[key] = (path, text)

    @classmethod
    def from_directory(cls, root: Path) -> TemplateStore:
        return cls(read_directory(root))

    def channels(self, event: str) -> list[str]:
        """Channels with at least a zh_CN template for ``event``."""
        return [c for c in TEMPLATE_CHANNELS if (event, c, FALLBACK_LANGUAGE) in self.sources]

    def spec(self, event: str) -> EventSpec:
        try:
            return self.events[event]
        except KeyError:
            raise TemplateRenderError(f"unknown notification event {event!r}") from None

    def render(self, event: str, channel: str, language: str | None,
               data: Mapping[str, Any]) -> Rendered:
        """Render ``event`` for ``channel`` in ``language`` (falling back to zh_CN)."""
        spec = self.spec(event)
        missing = [v for v in spec.variables if v not in data]
        if missing:
            raise TemplateRenderError(f"event {event!r} needs {', '.join(missing)}")
        lang = normalise_language(language)
        found = self.sources.get((event, channel, lang)) or self.sources.get(
            (event, channel, FALLBACK_LANGUAGE))
        if found is None:
            raise TemplateRenderError(f"no {channel} template for event {event!r}")
        path, source = found
        lang = TEMPLATE_RE.match(path).group("lang")  # type: ignore[union-attr]
        try:
            template = self._compiled.get(path)
            if template is None:
                template = self._compiled[path] = _env.from_string(source)
            text = template.render(dict(data))
        except TemplateError as exc:
            raise TemplateRenderError(f"{path}: {exc}") from exc
        subject, body = _split(channel, text)
        return Rendered(channel, lang, body, subject, path)


def read_directory(root: Path) -> dict[str, bytes]:
    """Bundle-style paths (``notifications/...``) of every .txt and .json under ``root``."""
    files: dict[str, bytes] = {}
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".txt", ".json"}:
                files[ROOT + path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _parse_events(flow: str, path: str, data: bytes, problems: list[Problem]) -> list[EventSpec]:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        problems.append(Problem(path, None, f"not valid JSON: {exc}"))
        return []
    if not isinstance(parsed, dict):
        problems.append(Problem(path, None, "must be a JSON object of event name → declaration"))
        return []
    specs: list[EventSpec] = []
    for name, decl in parsed.items():
        if not NAME_RE.match(str(name)):
            problems.append(Problem(path, str(name), "event names use a-z, 0-9 and _"))
            continue
        if not isinstance(decl, dict):
            problems.append(Problem(path, name, 'must be an object with "variables"'))
            continue
        variables = decl.get("variables", [])
        sample = decl.get("sample", {})
        if not isinstance(variables, list) or not all(
                isinstance(v, str) and v.isidentifier() for v in variables):
            problems.append(Problem(path, name, '"variables" must be a list of identifiers'))
            continue
        if not isinstance(sample, dict):
            problems.append(Problem(path, name, '"sample" must be an object'))
            continue
        for variable in variables:
            if variable not in sample:
                problems.append(Problem(path, name, f"sample has no value for {variable!r}"))
        specs.append(EventSpec(flow, name, tuple(variables), sample,
                               str(decl.get("description", ""))))
    return specs


def check_templates(files: Mapping[str, bytes]) -> TemplateReport:
    """Every problem (fails a deployment) and warning (SMS length) of the notifications files."""
    report = TemplateReport()
    events: dict[str, EventSpec] = {}
    flows_with_events: set[str] = set()
    for path, data in sorted(files.items()):
        found = EVENTS_RE.match(path)
        if found:
            flows_with_events.add(found.group("flow"))
            for spec in _parse_events(found.group("flow"), path, data, report.problems):
                events[spec.full_name] = spec
    present: set[tuple[str, str, str]] = set()
    for path, data in sorted(files.items()):
        if not path.startswith(ROOT) or EVENTS_RE.match(path) or not path.endswith(".txt"):
            continue
        found = TEMPLATE_RE.match(path)
        if (not found or found.group("channel") not in TEMPLATE_CHANNELS
                or found.group("lang") not in LANGUAGES):
            report.problems.append(Problem(path, None, (
                "name must be notifications/<flow>/<event>.<channel>.<lang>.txt with channel "
                f"{'|'.join(TEMPLATE_CHANNELS)} and language {'|'.join(LANGUAGES)}")))
            continue
        flow, name, channel = found.group("flow"), found.group("event"), found.group("channel")
        event = f"{flow}.{name}"
        declared = events.get(event)
        if declared is None:
            where = (f"notifications/{flow}/events.json" if flow in flows_with_events
                     else f"notifications/{flow}/events.json (missing)")
            report.problems.append(
                Problem(path, name, f"event {name!r} is not declared in {where}"))
            continue
        present.add((event, channel, found.group("lang")))
        _check_one(path, data, declared, channel, report)
    for event, channel, lang in sorted(present):
        if lang != FALLBACK_LANGUAGE and (event, channel, FALLBACK_LANGUAGE) not in present:
            flow, name = event.split(".", 1)
            report.problems.append(Problem(
                f"notifications/{flow}/{name}.{channel}.{lang}.txt", name,
                f"no {FALLBACK_LANGUAGE} version, which every language falls back to"))
    return report


def _check_one(path: str, data: bytes, spec: EventSpec, channel: str,
               report: TemplateReport) -> None:
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError:
        report.problems.append(Problem(path, spec.name, "not UTF-8 text"))
        return
    try:
        ast = _env.parse(source)
    except TemplateSyntaxError as exc:
        report.problems.append(Problem(path, spec.name, f"line {exc.lineno}: {exc.message}"))
        return
    used = meta.find_undeclared_variables(ast) - set(_env.globals)
    unknown = sorted(used - set(spec.variables))
    for variable in unknown:
        offered = ", ".join(spec.variables) or "none"
        report.problems.append(Problem(path, spec.name, (
            f"uses variable {variable!r} that event {spec.full_name!r} does not provide "
            f"(it provides: {offered})")))
    if channel == "email" and not SUBJECT_RE.match(source.lstrip().partition("\n")[0].strip()):
        report.problems.append(Problem(path, spec.name, 'first line must be "Subject: ..."'))
        return
    if unknown or any(v not in spec.sample for v in spec.variables):
        return
    try:
        _, body = _split(channel, _env.from_string(source).render(dict(spec.sample)))
    except (TemplateError, TemplateRenderError) as exc:
        report.problems.append(Problem(path, spec.name, f"fails with the sample data: {exc}"))
        return
    if channel == "sms":
        length = sms_length(body)
        if length.segments > 1:
            report.warnings.append(Problem(path, spec.name, (
                f"SMS is {length.units} {length.encoding} characters with the sample data: "
                f"{length.segments} segments (one holds 70 Chinese or 160 GSM-7 characters)")))


def validate_templates(files: Mapping[str, bytes]) -> list[Problem]:
    """Problems that must fail a deployment (paths are bundle paths, ``notifications/...``)."""
    return check_templates(files).problems
