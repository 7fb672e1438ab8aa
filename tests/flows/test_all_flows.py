"""Every shipped flow deploys together, and each serializes and restores without loss."""

from __future__ import annotations

from app.engine import spiff
from app.engine.deployments import deploy, loaded_deployment, read_bundle
from tests.flows.conftest import ROOT


def test_the_whole_bundle_deploys(db_session):
    files = read_bundle(ROOT)
    if not any(p.endswith(".bpmn") for p in files):
        return  # no flow shipped yet
    deployment, _ = deploy(files)
    loaded = loaded_deployment(deployment)
    for process in deployment.processes:
        spec, subprocesses = loaded.spec(process.process_id)
        workflow = spiff.create_workflow(spec, subprocesses, data={})
        restored = spiff.deserialize(spiff.serialize(workflow), specs=(spec, subprocesses))
        assert spiff.serialize(restored) == spiff.serialize(workflow)
