"""Deployments: validate a bundle of processes/ and forms/, store it as an immutable version.

A deployed bundle's parsed specs are stored with it; :func:`loaded_deployment` deserializes
them once per process and deployment id (deployments never change, so the cache never goes
stale).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from flask import has_app_context
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import bindparam, event, func, inspect, select
from sqlalchemy.orm import Session

from app.audit.actor import current_actor
from app.audit.recorder import record_audit
from app.engine import spiff
from app.engine.bundle import FORMS_DIR, BundleInvalid, Problem, form_path
from app.engine.models import DeployedProcess, Deployment, DeploymentFile, ProcessInstance
from app.engine.services import operator_requirements
from app.engine.spiff import deserialize_spec
from app.engine.validation import compile_bundle
from app.errors import NotFound
from app.extensions import db
from app.notifications.templates import validate_templates

#: Which files of a directory make a bundle.
BUNDLE_PATTERNS = ("processes/*.bpmn", "processes/*.dmn", "forms/**/*.json",
                   "notifications/**/*.json", "notifications/**/*.txt")


def read_bundle(root: str | Path) -> dict[str, bytes]:
    """The bundle files under ``root`` as {relative path: bytes}."""
    base = Path(root)
    files: dict[str, bytes] = {}
    for pattern in BUNDLE_PATTERNS:
        for path in sorted(base.glob(pattern)):
            if path.is_file():
                files[path.relative_to(base).as_posix()] = path.read_bytes()
    return files


def latest_deployment() -> Deployment | None:
    return db.session.scalar(select(Deployment).order_by(Deployment.version.desc()).limit(1))


def deploy(
    files: Mapping[str, bytes], operators: Mapping[str, Iterable[str]] | None = None
) -> tuple[Deployment, bool]:
    """Validate ``files`` and store them as a new version; (deployment, created).

    Service tasks are checked against ``operators`` (default: the registered operators of
    :mod:`app.engine.services`); ``notifications/`` templates with
    :func:`app.notifications.templates.validate_templates`.
    Raises :class:`app.engine.bundle.BundleInvalid` listing every problem, storing nothing.
    Content equal to the latest version answers that version with ``created=False``.
    """
    if not any(path.endswith(".bpmn") for path in files):
        raise BundleInvalid([Problem("processes/", None, "the bundle holds no BPMN file")])
    template_problems = validate_templates(
        {p: c for p, c in files.items() if p.startswith("notifications/")})
    try:
        bundle = compile_bundle(
            files, operator_requirements() if operators is None else operators)
    except BundleInvalid as exc:
        raise BundleInvalid(exc.problems + template_problems) from exc
    if template_problems:
        raise BundleInvalid(template_problems)
    latest = latest_deployment()
    if latest is not None and latest.content_hash == bundle.content_hash:
        return latest, False
    actor = current_actor()
    deployment = Deployment(
        version=(latest.version if latest else 0) + 1,
        content_hash=bundle.content_hash,
        created_by_id=actor.user_id,
        created_by_label=actor.label,
        specs=json.dumps(bundle.serialized_specs()),
    )
    db.session.add(deployment)
    db.session.flush()
    db.session.add_all(
        DeploymentFile(deployment_id=deployment.id, path=path, content=content)
        for path, content in sorted(bundle.files.items())
    )
    db.session.add_all(
        DeployedProcess(
            deployment_id=deployment.id,
            process_id=info.id,
            name=info.name,
            file=info.file,
            has_timer_start=info.timer_start,
        )
        for info in bundle.processes.values()
    )
    record_audit(
        "processes.deploy",
        record_type="deployment",
        record_id=deployment.id,
        after={"version": deployment.version, "processes": sorted(bundle.processes)},
    )
    db.session.flush()
    db.session.expire(deployment, ["processes"])
    return deployment, True


def deploy_from_directory(root: str | Path) -> tuple[Deployment, bool]:
    """Deploy ``processes/*.bpmn|*.dmn``, ``forms/**/*.json`` and ``notifications/**``."""
    return deploy(read_bundle(root))


def list_deployments() -> list[tuple[Deployment, int]]:
    """Every version, newest first, with the number of its instances (one query)."""
    counts = (
        select(ProcessInstance.deployment_id, func.count().label("n"))
        .group_by(ProcessInstance.deployment_id)
        .execution_options(all_projects=True)
        .subquery()
    )
    rows = db.session.execute(
        select(Deployment, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.deployment_id == Deployment.id)
        .order_by(Deployment.version.desc())
    ).all()
    return [(d, int(n)) for d, n in rows]


# --- the in-process cache of parsed deployments ---------------------------------------------


@dataclass(frozen=True)
class LoadedDeployment:
    id: int
    version: int
    specs: dict[str, tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]]
    files: dict[str, bytes]
    content_hash: str = ""
    _validators: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def spec(self, flow: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        try:
            return self.specs[flow]
        except KeyError as exc:
            raise NotFound(f"process {flow!r} is not in version {self.version}") from exc

    def form(self, name: str | None) -> dict[str, Any] | None:
        """A form (JSON Schema or UI schema) named relative to ``forms/``."""
        if not name:
            return None
        data = self.files.get(form_path(name))
        return None if data is None else dict(json.loads(data))

    def validator(self, name: str | None) -> Any:
        """A JSON Schema (Draft 2020-12) validator of a form, built once (None: no form)."""
        if not name:
            return None
        if name not in self._validators:
            schema = self.form(name)
            self._validators[name] = (
                None if schema is None else jsonschema.Draft202012Validator(schema))
        return self._validators[name]

    def bpmn(self, flow_file: str) -> bytes | None:
        return self.files.get(flow_file)

    @property
    def form_names(self) -> list[str]:
        return [p[len(FORMS_DIR) :] for p in self.files if p.startswith(FORMS_DIR)]


# Keyed by id and content hash: ids can come back after a rolled-back transaction (tests).
_cache: dict[tuple[int, str], LoadedDeployment] = {}
_cache_lock = threading.Lock()


def loaded_deployment(deployment: Deployment) -> LoadedDeployment:
    """The parsed specs and files of a deployment, read from the database once per process."""
    key = (deployment.id, deployment.content_hash)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    specs_text = db.session.scalar(select(Deployment.specs).where(Deployment.id == deployment.id))
    rows = db.session.execute(
        select(DeploymentFile.path, DeploymentFile.content).where(
            DeploymentFile.deployment_id == deployment.id
        )
    ).all()
    files = {path: bytes(content) for path, content in rows}
    specs = {
        pid: (
            deserialize_spec(entry["spec"]),
            {name: deserialize_spec(sub) for name, sub in entry["subprocess_specs"].items()},
        )
        for pid, entry in json.loads(specs_text or "{}").items()
    }
    loaded = LoadedDeployment(deployment.id, deployment.version, specs, files,
                              deployment.content_hash)
    with _cache_lock:
        return _cache.setdefault(key, loaded)


_HASH = select(Deployment.content_hash).where(Deployment.id == bindparam("deployment_id"))
_LATEST = (select(Deployment.id, Deployment.content_hash)
           .join(DeployedProcess)
           .where(DeployedProcess.process_id == bindparam("flow"))
           .order_by(Deployment.version.desc())
           .limit(1))


_HASHES = "estateflow_deployment_hashes"


def _loaded(deployment_id: int, content_hash: str) -> LoadedDeployment:
    cached = _cache.get((deployment_id, content_hash))
    if cached is not None:
        return cached
    return loaded_deployment(db.session.get_one(Deployment, deployment_id))


def note_content_hash(deployment_id: int, content_hash: str) -> None:
    """Remember a deployment's content hash read along with another row (this session)."""
    db.session.info.setdefault(_HASHES, {})[deployment_id] = content_hash


def loaded_deployment_by_id(deployment_id: int) -> LoadedDeployment:
    """:func:`loaded_deployment` of a deployment id without loading its row when cached.

    A deployment never changes once written, so its content hash is read once per session
    (forgotten on any rollback: a deployment rolled back may come back with another content).
    """
    known: dict[int, str] = db.session.info.setdefault(_HASHES, {})
    if deployment_id not in known:
        content_hash = db.session.scalar(_HASH, {"deployment_id": deployment_id})
        if content_hash is None:
            raise NotFound(f"no deployment {deployment_id}")
        known[deployment_id] = content_hash
    return _loaded(deployment_id, known[deployment_id])


def latest_loaded_deployment(flow: str) -> LoadedDeployment:
    """The parsed latest deployment that contains process ``flow`` (NotFound otherwise)."""
    row = db.session.execute(_LATEST, {"flow": flow}).first()
    if row is None:
        raise NotFound(f"no deployed process {flow!r}", {"flow": "no such deployed process"})
    note_content_hash(row.id, row.content_hash)
    return _loaded(row.id, row.content_hash)


def deployment_version(instance: ProcessInstance) -> int:
    """The version an instance runs on: from its deployment row when that is loaded (lists
    join it), else from the parsed deployment this session already used (a new instance)."""
    known = db.session.info.get(_HASHES, {})
    if "deployment" in inspect(instance).dict or instance.deployment_id not in known:
        return instance.deployment.version
    return loaded_deployment_by_id(instance.deployment_id).version


def restore_workflow(instance: ProcessInstance, state: str) -> BpmnWorkflow:
    """An instance's workflow from a state of it, with the specs of its deployment."""
    specs = loaded_deployment_by_id(instance.deployment_id).spec(instance.flow)
    return spiff.deserialize(state, specs=specs)


@event.listens_for(Session, "after_soft_rollback")
def _forget_hashes(session: Session, previous_transaction: Any) -> None:
    session.info.pop(_HASHES, None)


def clear_cache() -> None:
    """Forget parsed deployments (tests that roll back deployment rows call this)."""
    with _cache_lock:
        _cache.clear()
    if has_app_context():
        db.session.info.pop(_HASHES, None)
