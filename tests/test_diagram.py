"""The server-rendered SVG of a BPMN diagram (app.engine.diagram)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from app.engine.diagram import render_svg

SVG = "{http://www.w3.org/2000/svg}"
FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"

# None of the fixtures in tests/fixtures/bpmn carries BPMNDI, so this one is laid out here.
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
    id="Defs" targetNamespace="http://estateflow.example/bpmn">
  <bpmn:collaboration id="Collab">
    <bpmn:participant id="Pool" name="Repair &lt;service&gt;" processRef="repair_di" />
  </bpmn:collaboration>
  <bpmn:process id="repair_di" name="Repair" isExecutable="true">
    <bpmn:laneSet id="LaneSet">
      <bpmn:lane id="Lane_cs" name="customer_service">
        <bpmn:flowNodeRef>Start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Accept</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Gw</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_tech" name="technician">
        <bpmn:flowNodeRef>Fix</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Join</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start" name="报修"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Accept"
        name="受理 &lt;script&gt;alert(1)&lt;/script&gt; the ticket quickly please">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Gw" name="需要上门?" default="F4">
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
      <bpmn:outgoing>F4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:serviceTask id="Fix" name="维修师傅上门维修并拍照">
      <bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="Late" attachedToRef="Fix" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>F4</bpmn:incoming>
      <bpmn:incoming>F5</bpmn:incoming><bpmn:outgoing>F6</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="End" name="完成"><bpmn:incoming>F6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Accept" />
    <bpmn:sequenceFlow id="F2" sourceRef="Accept" targetRef="Gw" />
    <bpmn:sequenceFlow id="F3" name="是" sourceRef="Gw" targetRef="Fix" />
    <bpmn:sequenceFlow id="F4" name="否" sourceRef="Gw" targetRef="Join" />
    <bpmn:sequenceFlow id="F5" sourceRef="Fix" targetRef="Join" />
    <bpmn:sequenceFlow id="F6" sourceRef="Join" targetRef="End" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram">
    <bpmndi:BPMNPlane id="Plane" bpmnElement="Collab">
      <bpmndi:BPMNShape id="Pool_di" bpmnElement="Pool" isHorizontal="true">
        <dc:Bounds x="100" y="50" width="700" height="300" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_cs_di" bpmnElement="Lane_cs" isHorizontal="true">
        <dc:Bounds x="130" y="50" width="670" height="150" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_tech_di" bpmnElement="Lane_tech" isHorizontal="true">
        <dc:Bounds x="130" y="200" width="670" height="150" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Start_di" bpmnElement="Start">
        <dc:Bounds x="172" y="107" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="176" y="150" width="28" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Accept_di" bpmnElement="Accept">
        <dc:Bounds x="260" y="85" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gw_di" bpmnElement="Gw" isMarkerVisible="true">
        <dc:Bounds x="415" y="100" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Fix_di" bpmnElement="Fix">
        <dc:Bounds x="390" y="235" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Late_di" bpmnElement="Late">
        <dc:Bounds x="452" y="297" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Join_di" bpmnElement="Join">
        <dc:Bounds x="565" y="250" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="End_di" bpmnElement="End">
        <dc:Bounds x="682" y="257" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="F1_di" bpmnElement="F1">
        <di:waypoint x="208" y="125" /><di:waypoint x="260" y="125" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F2_di" bpmnElement="F2">
        <di:waypoint x="360" y="125" /><di:waypoint x="415" y="125" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F3_di" bpmnElement="F3">
        <di:waypoint x="440" y="150" /><di:waypoint x="440" y="235" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F4_di" bpmnElement="F4">
        <di:waypoint x="465" y="125" /><di:waypoint x="590" y="125" />
        <di:waypoint x="590" y="250" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F5_di" bpmnElement="F5">
        <di:waypoint x="490" y="275" /><di:waypoint x="565" y="275" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F6_di" bpmnElement="F6">
        <di:waypoint x="615" y="275" /><di:waypoint x="682" y="275" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
""".encode()

CURRENT = "#e8590c"
DONE = "#5c9e74"


def _parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode())


def _group(root: etree._Element, element_id: str) -> etree._Element:
    found = root.xpath(f"//*[@data-element-id='{element_id}']")
    assert found, f"{element_id} not drawn"
    return found[0]


def test_fixtures_have_no_di_so_the_diagram_test_brings_its_own():
    # If someone adds BPMNDI to a fixture, it must still render, not crash.
    for path in sorted(FIXTURES.glob("*.bpmn")):
        svg = render_svg(path.read_bytes(), None, set())
        assert _parse(svg).tag == f"{SVG}svg"


def test_shapes_labels_and_sizing():
    svg = render_svg(DIAGRAM, "repair_di", set())
    root = _parse(svg)
    assert root.get("width") == "100%"
    x, y, w, h = (float(v) for v in root.get("viewBox").split())
    assert x < 100 and y < 50 and x + w > 800 and y + h > 350
    assert "<script" not in svg

    accept = _group(root, "Accept")
    assert "bpmn-userTask" in accept.get("class")
    rect = accept.find(f"{SVG}rect")
    assert rect.get("rx") == "10"
    # long names wrap into several lines inside the box
    assert len(accept.findall(f".//{SVG}tspan")) >= 2

    start = _group(root, "Start")
    assert len(start.findall(f"{SVG}circle")) == 1
    assert start.find(f".//{SVG}tspan").text == "报修"
    end = _group(root, "End")
    assert float(end.find(f"{SVG}circle").get("stroke-width")) >= 3
    late = _group(root, "Late")
    rings = late.findall(f"{SVG}circle")
    assert len(rings) >= 3  # double ring + clock face
    assert rings[0].get("stroke-dasharray") != "none"  # non-interrupting

    gateway = _group(root, "Gw")
    assert gateway.find(f"{SVG}polygon") is not None
    assert gateway.find(f"{SVG}path") is not None  # the X
    assert "需要上门?" in "".join(gateway.itertext())
    assert "bpmn-parallelGateway" in _group(root, "Join").get("class")

    pool = _group(root, "Pool")
    assert "Repair <service>" in "".join(pool.itertext())
    assert "technician" in "".join(_group(root, "Lane_tech").itertext())

    flow = _group(root, "F4")
    line = flow.find(f"{SVG}polyline")
    assert line.get("points") == "465,125 590,125 590,250"
    assert line.get("marker-end") == "url(#bpmn-arrow)"
    assert flow.find(f"{SVG}line") is not None  # default-flow slash
    assert "否" in "".join(flow.itertext())


def test_current_and_done_colours():
    svg = render_svg(DIAGRAM, "repair_di", {"Fix"}, done={"Start", "Accept", "Gw"})
    root = _parse(svg)
    fix = _group(root, "Fix")
    assert "is-current" in fix.get("class")
    assert fix.find(f"{SVG}rect").get("stroke") == CURRENT
    accept = _group(root, "Accept")
    assert "is-done" in accept.get("class")
    assert accept.find(f"{SVG}rect").get("stroke") == DONE
    assert _group(root, "F3").find(f"{SVG}polyline").get("stroke") == DONE
    assert _group(root, "F6").find(f"{SVG}polyline").get("stroke") != DONE
    assert _group(root, "End").find(f"{SVG}circle").get("stroke") not in {CURRENT, DONE}


def test_text_is_escaped():
    svg = render_svg(DIAGRAM, None, {"Accept"})
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    texts = "".join(_group(_parse(svg), "Accept").itertext())
    assert "受理 <script>" in texts


def test_without_di_a_message():
    svg = render_svg((FIXTURES / "three_tasks.bpmn").read_bytes(), "three_tasks", {"Accept"})
    root = _parse(svg)
    assert "bpmn-empty" in root.get("class")
    assert "no diagram layout" in "".join(root.itertext())


@pytest.mark.parametrize("data", [b"not xml", b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>"])
def test_bad_input_gives_a_message(data):
    svg = render_svg(data, None, set())
    assert "root:" not in svg
    assert _parse(svg).tag == f"{SVG}svg"
