"""Deploying bundles: versions, unchanged content, broken bundles, CLI and API."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from sqlalchemy import func, select

from app.engine import deployments, runtime, spiff
from app.engine.bundle import BundleInvalid
from app.engine.deployments import deploy, read_bundle
from app.engine.models import DeployedProcess, Deployment, ProcessInstance
from app.engine.validation import compile_bundle
from app.extensions import db
from tests.engine_db.conftest import BUNDLE_MIN, BUNDLE_REPAIR

ROOT = Path(__file__).resolve().parents[2]


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _broken(files: dict[str, bytes]) -> dict[str, bytes]:
    broken = dict(files)
    broken["processes/ticket.bpmn"] = broken["processes/ticket.bpmn"].replace(
        b'name="technician"', b'name="wizard"')
    return broken


def test_deploy_then_unchanged_redeploy(db_session, bundle_min):
    first, created = deploy(bundle_min)
    assert created and first.version == 1
    assert [p.process_id for p in first.processes] == ["ticket"]
    again, created_again = deploy(bundle_min)
    assert not created_again and again.id == first.id
    assert _count(Deployment) == 1
    changed = dict(bundle_min)
    changed["forms/ticket/extra.json"] = b'{"type": "object"}'
    second, created = deploy(changed)
    assert created and second.version == 2
    # A rollback to the first content is a new, current version.
    third, created = deploy(bundle_min)
    assert created and third.version == 3 and third.content_hash == first.content_hash


def test_broken_bundle_deploys_nothing(db_session, bundle_min):
    with pytest.raises(BundleInvalid) as info:
        deploy(_broken(bundle_min))
    problem = info.value.problems[0]
    assert problem.file == "processes/ticket.bpmn" and problem.element_id == "Lane_tech"
    assert _count(Deployment) == 0 and _count(DeployedProcess) == 0


def test_cli_deploy_and_list(app, db_session, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["processes", "deploy", "--dir", str(BUNDLE_MIN)])
    assert result.exit_code == 0, result.output
    assert "Deployed version 1: ticket" in result.output
    result = runner.invoke(args=["processes", "deploy", "--dir", str(BUNDLE_MIN)])
    assert result.exit_code == 0 and "version 1 (unchanged)" in result.output
    listing = runner.invoke(args=["processes", "list"])
    assert "version 1" in listing.output and "0 instance(s)" in listing.output


def test_cli_broken_bundle_exits_non_zero(app, db_session, tmp_path):
    for path, content in _broken(read_bundle(BUNDLE_MIN)).items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["processes", "deploy", "--dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "processes/ticket.bpmn: Lane_tech: lane 'wizard' is not a role code" in result.output
    assert _count(Deployment) == 0


def test_api_deploy_and_list(client, create_user, token_headers, bundle_min):
    create_user("process_admin", username="padmin")
    headers = token_headers("padmin")
    upload = {name: (io.BytesIO(content), name) for name, content in bundle_min.items()}
    created = client.post("/api/v1/deployments", data=upload, headers=headers,
                          content_type="multipart/form-data")
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["version"] == 1 and created.get_json()["created"] is True
    upload = {name: (io.BytesIO(content), name) for name, content in bundle_min.items()}
    same = client.post("/api/v1/deployments", data=upload, headers=headers,
                       content_type="multipart/form-data")
    assert same.status_code == 200 and same.get_json()["created"] is False
    listing = client.get("/api/v1/deployments", headers=headers).get_json()
    assert [(d["version"], d["instances"]) for d in listing] == [(1, 0)]


def test_api_broken_bundle_is_422_naming_file_and_element(client, create_user, token_headers,
                                                          bundle_min):
    create_user("process_admin", username="padmin")
    upload = {n: (io.BytesIO(c), n) for n, c in _broken(bundle_min).items()}
    response = client.post("/api/v1/deployments", data=upload,
                           headers=token_headers("padmin"), content_type="multipart/form-data")
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "wizard" in fields["processes/ticket.bpmn#Lane_tech"]
    assert _count(Deployment) == 0


def test_deploy_needs_permission(client, create_user, token_headers, bundle_min):
    create_user("technician", username="tech")
    upload = {n: (io.BytesIO(c), n) for n, c in bundle_min.items()}
    response = client.post("/api/v1/deployments", data=upload, headers=token_headers("tech"),
                           content_type="multipart/form-data")
    assert response.status_code == 403


def test_admin_page_upload(client, auth, create_user, bundle_min):
    create_user("process_admin", username="padmin")
    auth.login("padmin")
    token = auth.csrf("/admin/processes/")
    broken = {"files": [(io.BytesIO(c), n) for n, c in _broken(bundle_min).items()],
              "csrf_token": token}
    response = client.post("/admin/processes/", data=broken, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Lane_tech" in response.get_data(as_text=True)
    good = {"files": [(io.BytesIO(c), n) for n, c in bundle_min.items()], "csrf_token": token}
    response = client.post("/admin/processes/", data=good, content_type="multipart/form-data",
                           follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Service ticket" in page


def test_instances_keep_their_version(db_session, create_project, bundle_min):
    project = create_project()
    v1, _ = deploy(bundle_min)
    old = runtime.start_instance("ticket", project.id, {})
    changed = dict(bundle_min)
    changed["processes/ticket.bpmn"] = changed["processes/ticket.bpmn"].replace(
        b'name="Review"', b'name="Final review"')
    v2, _ = deploy(changed)
    new = runtime.start_instance("ticket", project.id, {})
    assert old.deployment_id == v1.id and new.deployment_id == v2.id
    counts = dict((d.version, n) for d, n in deployments.list_deployments())
    assert counts == {1: 1, 2: 1}
    assert db.session.get(ProcessInstance, old.id).deployment.version == 1


def _bundles() -> list[tuple[str, dict[str, bytes]]]:
    found = [("fixture bundle_min", read_bundle(BUNDLE_MIN)),
             ("fixture repair bundle", read_bundle(BUNDLE_REPAIR))]
    shipped = read_bundle(ROOT)
    if any(p.endswith(".bpmn") for p in shipped):
        found.append(("processes/", shipped))
    return found


@pytest.mark.parametrize(("label", "files"), _bundles(), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_serializer_round_trip_of_every_process(label, files, frozen_clock):
    """Each flow of every bundle (the shipped processes/ included, if any) survives
    serialize → deserialize → serialize unchanged, before and after its first steps (a shipped
    flow that needs start data of its own is round-tripped after real steps by its flow tests
    in tests/flows/)."""
    bundle = compile_bundle(files)
    assert bundle.specs, label
    for pid in bundle.processes:
        spec = spiff.deserialize_spec(bundle.serialized_specs()[pid]["spec"])
        workflow = spiff.create_workflow(spec, bundle.subprocess_specs[pid], data={
            "urgent": False, "sla": "P2D", "owner_phone": "+8613800000000",
            "category": "plumbing"})
        text = spiff.serialize(workflow)
        assert spiff.serialize(spiff.deserialize(
            text, specs=spiff.specs_of(workflow))) == text, pid
        try:
            spiff.advance(workflow)
        except WorkflowTaskException:
            assert label == "processes/", f"{pid}: fixture flows start with the data above"
            continue
        text = spiff.serialize(workflow)
        assert spiff.serialize(spiff.deserialize(
            text, specs=spiff.specs_of(workflow))) == text, pid


def test_bundle_without_bpmn_is_refused(db_session):
    with pytest.raises(BundleInvalid) as info:
        deploy({"forms/x.json": b"{}"})
    assert str(info.value.problems[0]) == "processes/: the bundle holds no BPMN file"
    assert _count(Deployment) == 0
