"""A read-only SVG picture of a BPMN diagram, drawn on the server from its BPMNDI layout.

:func:`render_svg` draws what a modeler laid out (``bpmndi:BPMNShape`` bounds and
``bpmndi:BPMNEdge`` waypoints): tasks, events, gateways, pools and lanes, flows; the current
steps in a strong accent colour, completed ones in a muted green. The SVG scales to its
container (``width="100%"`` plus a ``viewBox`` of the diagram's bounds) and needs no script or
font download. Every text is escaped by the XML serializer; the input is parsed without DTDs,
entities or network access.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SVG = "http://www.w3.org/2000/svg"

FONT = '-apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif'
FONT_SIZE = 12.0
LINE = 14.0
INK, PAPER, LANE_INK = "#1d2733", "#ffffff", "#9aa5b1"
STYLE = {  # state → (stroke, fill, stroke width factor)
    "current": ("#e8590c", "#fff4e6", 2.0),
    "done": ("#5c9e74", "#ebf6ee", 1.0),
    "": (INK, PAPER, 1.0),
}

TASKS = {"task", "userTask", "serviceTask", "scriptTask", "manualTask", "businessRuleTask",
         "sendTask", "receiveTask", "callActivity"}
SUBPROCESSES = {"subProcess", "transaction", "adHocSubProcess"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
          "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
            "complexGateway"}

_ICONS = {"userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask"}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          remove_comments=True, remove_pis=True)


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _bounds(el: etree._Element | None) -> Box | None:
    if el is None:
        return None
    try:
        return Box(*(float(el.get(k, "")) for k in ("x", "y", "width", "height")))
    except ValueError:
        return None


def _sub(parent: etree._Element, tag: str, **attrs: str | float) -> etree._Element:
    el = etree.SubElement(parent, f"{{{SVG}}}{tag}")
    for key, value in attrs.items():
        el.set(key.rstrip("_").replace("_", "-"),
               _num(value) if isinstance(value, float | int) else value)
    return el


def _message_svg(text: str) -> str:
    svg = etree.Element(f"{{{SVG}}}svg", nsmap={None: SVG})
    svg.set("viewBox", "0 0 480 60")
    svg.set("width", "100%")
    svg.set("role", "img")
    svg.set("class", "bpmn-diagram bpmn-empty")
    label = _sub(svg, "text", x=240.0, y=34.0, text_anchor="middle", font_family=FONT,
                 font_size=14.0, fill="#6b7785")
    label.text = text
    return etree.tostring(svg, encoding="unicode")


def _pick_plane(root: etree._Element, process_id: str | None) -> etree._Element | None:
    planes = root.findall(f".//{{{BPMNDI}}}BPMNPlane")
    if not planes or process_id is None:
        return planes[0] if planes else None
    collaborations = {
        c.get("id") for c in root.iter(f"{{{BPMN}}}collaboration")
        if any(p.get("processRef") == process_id for p in c.iter(f"{{{BPMN}}}participant"))
    }
    for plane in planes:
        if plane.get("bpmnElement") == process_id or plane.get("bpmnElement") in collaborations:
            return plane
    return planes[0]


def render_svg(bpmn_xml: bytes, process_id: str | None, highlight: set[str],
               done: Iterable[str] = frozenset()) -> str:
    """SVG markup of the diagram of ``process_id`` (first diagram if ``None``).

    ``highlight`` holds the element ids of the current steps, ``done`` those completed.
    """
    try:
        root = etree.fromstring(bpmn_xml, _PARSER)
    except etree.XMLSyntaxError:
        return _message_svg("无法读取流程图 / The diagram could not be read")
    plane = _pick_plane(root, process_id)
    shapes = plane.findall(f"{{{BPMNDI}}}BPMNShape") if plane is not None else []
    edges = plane.findall(f"{{{BPMNDI}}}BPMNEdge") if plane is not None else []
    if not shapes and not edges:
        return _message_svg("此流程没有图形布局 / This process has no diagram layout")
    semantic = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str)
                and el.get("id") and etree.QName(el).namespace == BPMN}
    drawing = _Drawing(semantic, set(highlight), set(done) - set(highlight))
    return drawing.render(shapes, edges, process_id)


class _Drawing:
    def __init__(self, semantic: dict[str, etree._Element], current: set[str],
                 done: set[str]) -> None:
        self.semantic = semantic
        self.current = current
        self.done = done
        self.points: list[tuple[float, float]] = []

    def state(self, element_id: str) -> str:
        if element_id in self.current:
            return "current"
        return "done" if element_id in self.done else ""

    def render(self, shapes: list[etree._Element], edges: list[etree._Element],
               process_id: str | None) -> str:
        svg = etree.Element(f"{{{SVG}}}svg", nsmap={None: SVG})
        title = _sub(svg, "title")
        name = self.semantic.get(process_id or "")
        title.text = (name.get("name") if name is not None else None) or process_id or "BPMN"
        self._defs(svg)
        back = _sub(svg, "g", class_="bpmn-containers")
        flows = _sub(svg, "g", class_="bpmn-flows")
        nodes = _sub(svg, "g", class_="bpmn-nodes")
        for shape in shapes:
            box = _bounds(shape.find(f"{{{DC}}}Bounds"))
            ref = shape.get("bpmnElement", "")
            el = self.semantic.get(ref)
            if box is None:
                continue
            self.points += [(box.x, box.y), (box.x + box.w, box.y + box.h)]
            kind = _local(el.tag) if el is not None else ""
            expanded = kind in SUBPROCESSES and shape.get("isExpanded") != "false"
            layer = back if kind in {"participant", "lane", "group"} or expanded else nodes
            group = _sub(layer, "g", class_=f"bpmn-element bpmn-{kind or 'unknown'}"
                         + (f" is-{self.state(ref)}" if self.state(ref) else ""))
            group.set("data-element-id", ref)
            label_box = _bounds(shape.find(f"{{{BPMNDI}}}BPMNLabel/{{{DC}}}Bounds"))
            self._shape(group, kind, el, box, self.state(ref), expanded, label_box)
        for edge in edges:
            self._edge(flows, edge)
        xs = [p[0] for p in self.points] or [0.0]
        ys = [p[1] for p in self.points] or [0.0]
        pad = 12.0
        x0, y0 = min(xs) - pad, min(ys) - pad
        width, height = max(xs) - x0 + pad, max(ys) - y0 + pad
        svg.set("viewBox", " ".join(_num(v) for v in (x0, y0, width, height)))
        svg.set("width", "100%")
        svg.set("style", f"max-width:{_num(width)}px;height:auto")
        svg.set("role", "img")
        svg.set("aria-label", title.text or "BPMN")
        svg.set("class", "bpmn-diagram")
        svg.set("font-family", FONT)
        svg.set("font-size", _num(FONT_SIZE))
        return etree.tostring(svg, encoding="unicode")

    def _defs(self, svg: etree._Element) -> None:
        defs = _sub(svg, "defs")
        for suffix, state in (("", ""), ("-done", "done"), ("-current", "current")):
            marker = _sub(defs, "marker", id=f"bpmn-arrow{suffix}", viewBox="0 0 10 10",
                          refX=9.0, refY=5.0, markerWidth=7.0, markerHeight=7.0,
                          orient="auto-start-reverse")
            _sub(marker, "path", d="M0,0 L10,5 L0,10 z", fill=STYLE[state][0])
        marker = _sub(defs, "marker", id="bpmn-open-arrow", viewBox="0 0 10 10", refX=9.0,
                      refY=5.0, markerWidth=8.0, markerHeight=8.0, orient="auto")
        _sub(marker, "path", d="M0,0 L10,5 L0,10 z", fill=PAPER, stroke=INK)

    # --- shapes -----------------------------------------------------------------------------

    def _shape(self, g: etree._Element, kind: str, el: etree._Element | None, box: Box,
               state: str, expanded: bool, label_box: Box | None) -> None:
        stroke, fill, factor = STYLE[state]
        name = (el.get("name") if el is not None else None) or ""
        if name:
            _sub(g, "title").text = name
        if kind in {"participant", "lane"}:
            self._container(g, kind, box, name)
        elif kind in TASKS or kind in SUBPROCESSES:
            width = (3.0 if kind == "callActivity" else 1.5) * factor
            _sub(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=10.0, ry=10.0,
                 fill="none" if expanded else fill, stroke=stroke, stroke_width=width,
                 stroke_dasharray="6 3" if kind == "adHocSubProcess" else "none")
            if expanded:
                self._text(g, name, Box(box.x + 6, box.y + 4, box.w - 12, LINE * 2), "start")
            else:
                top = 18.0 if kind in _ICONS else 4.0  # keep the type icon clear
                self._text(g, name, Box(box.x + 4, box.y + top, box.w - 8, box.h - top - 4))
                self._task_icon(g, kind, box, stroke)
                self._markers(g, el, box, stroke, kind in SUBPROCESSES)
        elif kind in EVENTS:
            self._event(g, kind, el, box, stroke, fill, factor)
            self._outside_label(g, name, box, label_box)
        elif kind in GATEWAYS:
            self._gateway(g, kind, box, stroke, fill, factor)
            self._outside_label(g, name, box, label_box)
        elif kind == "textAnnotation":
            _sub(g, "path", d=f"M{_num(box.x + 10)},{_num(box.y)} L{_num(box.x)},{_num(box.y)} "
                 f"L{_num(box.x)},{_num(box.y + box.h)} L{_num(box.x + 10)},"
                 f"{_num(box.y + box.h)}", fill="none", stroke=INK)
            text = el.findtext(f"{{{BPMN}}}text") if el is not None else ""
            self._text(g, text or "", Box(box.x + 5, box.y + 2, box.w - 6, box.h - 4), "start")
        elif kind == "group":
            _sub(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=8.0, fill="none",
                 stroke=LANE_INK, stroke_dasharray="8 4 2 4")
        else:  # data objects, stores and anything else: a plain outline with the name
            _sub(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=2.0, fill=fill,
                 stroke=stroke)
            self._outside_label(g, name, box, label_box)

    def _container(self, g: etree._Element, kind: str, box: Box, name: str) -> None:
        _sub(g, "rect", x=box.x, y=box.y, width=box.w, height=box.h, fill="none",
             stroke=INK if kind == "participant" else LANE_INK,
             stroke_width=1.5 if kind == "participant" else 1.0)
        if not name:
            return
        band = 30.0
        if kind == "participant":
            _sub(g, "line", x1=box.x + band, y1=box.y, x2=box.x + band, y2=box.y + box.h,
                 stroke=INK)
        cx, cy = box.x + band / 2, box.cy
        lines = _wrap(name, box.h - 10, 1)
        label = _sub(g, "text", x=cx, y=cy + FONT_SIZE * 0.35, text_anchor="middle",
                     transform=f"rotate(-90 {_num(cx)} {_num(cy)})", fill=INK)
        label.text = lines[0] if lines else ""

    def _task_icon(self, g: etree._Element, kind: str, box: Box, stroke: str) -> None:
        x, y = box.x + 8, box.y + 8
        if kind == "userTask":
            _sub(g, "circle", cx=x + 6, cy=y + 4, r=3.5, fill="none", stroke=stroke)
            _sub(g, "path", d=f"M{_num(x)},{_num(y + 15)} q6,-9 12,0", fill="none",
                 stroke=stroke)
        elif kind == "serviceTask":
            _sub(g, "circle", cx=x + 6, cy=y + 6, r=5.0, fill="none", stroke=stroke,
                 stroke_width=3.0, stroke_dasharray="2 1.5")
            _sub(g, "circle", cx=x + 6, cy=y + 6, r=1.8, fill="none", stroke=stroke)
        elif kind == "scriptTask":
            _sub(g, "rect", x=x, y=y, width=11.0, height=13.0, fill="none", stroke=stroke)
            for dy in (4, 7, 10):
                _sub(g, "line", x1=x + 2, y1=y + dy, x2=x + 9, y2=y + dy, stroke=stroke)
        elif kind == "businessRuleTask":
            _sub(g, "rect", x=x, y=y, width=16.0, height=11.0, fill="none", stroke=stroke)
            _sub(g, "line", x1=x, y1=y + 4, x2=x + 16, y2=y + 4, stroke=stroke)
            _sub(g, "line", x1=x + 5, y1=y + 4, x2=x + 5, y2=y + 11, stroke=stroke)
        elif kind in {"sendTask", "receiveTask"}:
            _envelope(g, x, y, 16.0, 11.0, stroke, kind == "sendTask")

    def _markers(self, g: etree._Element, el: etree._Element | None, box: Box, stroke: str,
                 collapsed: bool) -> None:
        bottom = box.y + box.h - 6
        if collapsed:
            _sub(g, "rect", x=box.cx - 6, y=bottom - 12, width=12.0, height=12.0, fill="none",
                 stroke=stroke)
            _sub(g, "path", d=f"M{_num(box.cx - 3)},{_num(bottom - 6)} h6 "
                 f"M{_num(box.cx)},{_num(bottom - 9)} v6", stroke=stroke)
        loop = el.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics") if el is not None \
            else None
        if loop is not None and not collapsed:
            sequential = loop.get("isSequential") == "true"
            for i in (-4, 0, 4):
                if sequential:
                    _sub(g, "line", x1=box.cx - 6, y1=bottom - 6 + i, x2=box.cx + 6,
                         y2=bottom - 6 + i, stroke=stroke, stroke_width=2.0)
                else:
                    _sub(g, "line", x1=box.cx + i, y1=bottom - 12, x2=box.cx + i, y2=bottom,
                         stroke=stroke, stroke_width=2.0)

    def _event(self, g: etree._Element, kind: str, el: etree._Element | None, box: Box,
               stroke: str, fill: str, factor: float) -> None:
        r = min(box.w, box.h) / 2
        dashed = "4 2" if el is not None and el.get("cancelActivity") == "false" else "none"
        width = (4.0 if kind == "endEvent" else 1.5) * factor
        _sub(g, "circle", cx=box.cx, cy=box.cy, r=r, fill=fill, stroke=stroke,
             stroke_width=width, stroke_dasharray=dashed)
        if kind in {"intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}:
            _sub(g, "circle", cx=box.cx, cy=box.cy, r=r - 3, fill="none", stroke=stroke,
                 stroke_width=1.2 * factor, stroke_dasharray=dashed)
        definitions = {_local(child.tag) for child in (el if el is not None else [])}
        throw = kind in {"endEvent", "intermediateThrowEvent"}
        if "timerEventDefinition" in definitions:
            _sub(g, "circle", cx=box.cx, cy=box.cy, r=r * 0.55, fill=PAPER, stroke=stroke)
            _sub(g, "path", d=f"M{_num(box.cx)},{_num(box.cy - r * 0.4)} V{_num(box.cy)} "
                 f"L{_num(box.cx + r * 0.3)},{_num(box.cy + r * 0.1)}", fill="none",
                 stroke=stroke)
        elif "messageEventDefinition" in definitions:
            _envelope(g, box.cx - r * 0.5, box.cy - r * 0.35, r, r * 0.7, stroke, throw)
        elif "signalEventDefinition" in definitions:
            _sub(g, "path", d=f"M{_num(box.cx)},{_num(box.cy - r * 0.5)} "
                 f"L{_num(box.cx + r * 0.5)},{_num(box.cy + r * 0.35)} "
                 f"L{_num(box.cx - r * 0.5)},{_num(box.cy + r * 0.35)} z",
                 fill=stroke if throw else "none", stroke=stroke)
        elif "terminateEventDefinition" in definitions:
            _sub(g, "circle", cx=box.cx, cy=box.cy, r=r * 0.55, fill=stroke)
        elif "errorEventDefinition" in definitions or "escalationEventDefinition" in definitions:
            _sub(g, "path", d=f"M{_num(box.cx - r * 0.45)},{_num(box.cy + r * 0.45)} "
                 f"L{_num(box.cx - r * 0.15)},{_num(box.cy - r * 0.45)} "
                 f"L{_num(box.cx + r * 0.15)},{_num(box.cy + r * 0.1)} "
                 f"L{_num(box.cx + r * 0.45)},{_num(box.cy - r * 0.45)}",
                 fill="none", stroke=stroke, stroke_width=1.5)

    def _gateway(self, g: etree._Element, kind: str, box: Box, stroke: str, fill: str,
                 factor: float) -> None:
        cx, cy, hw, hh = box.cx, box.cy, box.w / 2, box.h / 2
        _sub(g, "polygon", points=" ".join(f"{_num(x)},{_num(y)}" for x, y in (
            (cx, box.y), (box.x + box.w, cy), (cx, box.y + box.h), (box.x, cy))),
             fill=fill, stroke=stroke, stroke_width=1.5 * factor)
        k = min(hw, hh) * 0.4
        if kind in {"exclusiveGateway", "complexGateway"}:
            _sub(g, "path", d=f"M{_num(cx - k)},{_num(cy - k)} L{_num(cx + k)},{_num(cy + k)} "
                 f"M{_num(cx + k)},{_num(cy - k)} L{_num(cx - k)},{_num(cy + k)}",
                 stroke=stroke, stroke_width=3.0)
        if kind in {"parallelGateway", "complexGateway"}:
            k2 = k * 1.3
            _sub(g, "path", d=f"M{_num(cx)},{_num(cy - k2)} V{_num(cy + k2)} "
                 f"M{_num(cx - k2)},{_num(cy)} H{_num(cx + k2)}", stroke=stroke,
                 stroke_width=3.0)
        elif kind == "inclusiveGateway":
            _sub(g, "circle", cx=cx, cy=cy, r=k * 1.2, fill="none", stroke=stroke,
                 stroke_width=2.5)
        elif kind == "eventBasedGateway":
            _sub(g, "circle", cx=cx, cy=cy, r=k * 1.4, fill="none", stroke=stroke)
            _sub(g, "circle", cx=cx, cy=cy, r=k * 1.15, fill="none", stroke=stroke)
            pts = [(cx + k * 0.75 * math.sin(a), cy - k * 0.75 * math.cos(a))
                   for a in (i * 2 * math.pi / 5 for i in range(5))]
            _sub(g, "polygon", points=" ".join(f"{_num(x)},{_num(y)}" for x, y in pts),
                 fill="none", stroke=stroke)

    def _outside_label(self, g: etree._Element, name: str, box: Box,
                       label_box: Box | None) -> None:
        if not name:
            return
        area = label_box or Box(box.cx - 50, box.y + box.h + 4, 100, LINE * 3)
        self.points += [(area.x, area.y), (area.x + area.w, area.y + area.h)]
        self._text(g, name, area, valign="top")

    def _text(self, g: etree._Element, text: str, area: Box, anchor: str = "middle",
              valign: str = "middle") -> None:
        max_lines = max(int(area.h // LINE), 1)
        lines = _wrap(text, area.w, max_lines)
        if not lines:
            return
        x = area.cx if anchor == "middle" else area.x
        if valign == "top":
            y = area.y + FONT_SIZE
        else:
            y = area.cy - (len(lines) - 1) * LINE / 2 + FONT_SIZE * 0.35
        label = _sub(g, "text", x=x, y=y, text_anchor=anchor, fill=INK)
        for i, line in enumerate(lines):
            span = _sub(label, "tspan", x=x, dy=0.0 if i == 0 else LINE)
            span.text = line

    # --- edges ------------------------------------------------------------------------------

    def _edge(self, layer: etree._Element, edge: etree._Element) -> None:
        points = []
        for wp in edge.findall(f"{{{DI}}}waypoint"):
            try:
                points.append((float(wp.get("x", "")), float(wp.get("y", ""))))
            except ValueError:
                continue
        if len(points) < 2:
            return
        self.points += points
        ref = edge.get("bpmnElement", "")
        el = self.semantic.get(ref)
        kind = _local(el.tag) if el is not None else ""
        source = el.get("sourceRef", "") if el is not None else ""
        target = el.get("targetRef", "") if el is not None else ""
        state = ""
        if source in self.done and (target in self.done or target in self.current):
            state = "done"
        stroke = STYLE[state][0]
        g = _sub(layer, "g", class_=f"bpmn-edge bpmn-{kind or 'unknown'}"
                 + (f" is-{state}" if state else ""))
        g.set("data-element-id", ref)
        attrs: dict[str, str | float] = {"fill": "none", "stroke": stroke,
                                         "stroke_width": 1.5, "stroke_linejoin": "round"}
        if kind == "messageFlow":
            attrs.update(stroke_dasharray="6 4", marker_end="url(#bpmn-open-arrow)")
        elif kind in {"association", "dataInputAssociation", "dataOutputAssociation"}:
            attrs.update(stroke_dasharray="2 3")
            if kind != "association":
                attrs.update(marker_end="url(#bpmn-arrow)")
        else:
            attrs.update(marker_end=f"url(#bpmn-arrow{'-' + state if state else ''})")
        _sub(g, "polyline", points=" ".join(f"{_num(x)},{_num(y)}" for x, y in points),
             **attrs)
        gateway = self.semantic.get(source)
        if kind == "sequenceFlow" and gateway is not None and gateway.get("default") == ref:
            (x1, y1), (x2, y2) = points[0], points[1]
            length = math.hypot(x2 - x1, y2 - y1) or 1.0
            ux, uy = (x2 - x1) / length, (y2 - y1) / length
            mx, my = x1 + ux * 10, y1 + uy * 10
            _sub(g, "line", x1=mx - 5 * uy - 3 * ux, y1=my + 5 * ux - 3 * uy,
                 x2=mx + 5 * uy + 3 * ux, y2=my - 5 * ux + 3 * uy, stroke=stroke,
                 stroke_width=1.5)
        name = (el.get("name") if el is not None else None) or ""
        if name:
            _sub(g, "title").text = name
            area = _bounds(edge.find(f"{{{BPMNDI}}}BPMNLabel/{{{DC}}}Bounds"))
            if area is None:
                mid = len(points) // 2
                (ax, ay), (bx, by) = points[mid - 1], points[mid]
                area = Box((ax + bx) / 2 - 40, (ay + by) / 2 - LINE - 2, 80, LINE * 2)
            self.points += [(area.x, area.y), (area.x + area.w, area.y + area.h)]
            self._text(g, name, area)


def _envelope(g: etree._Element, x: float, y: float, w: float, h: float, stroke: str,
              filled: bool) -> None:
    _sub(g, "rect", x=x, y=y, width=w, height=h, fill=stroke if filled else PAPER,
         stroke=stroke)
    _sub(g, "path", d=f"M{_num(x)},{_num(y)} L{_num(x + w / 2)},{_num(y + h / 2)} "
         f"L{_num(x + w)},{_num(y)}", fill="none", stroke=PAPER if filled else stroke)


_TOKEN = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|\s+|"
                    r"[^\s\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]+")


def _width(text: str) -> float:
    return sum(FONT_SIZE if unicodedata.east_asian_width(ch) in "WF" else FONT_SIZE * 0.58
               for ch in text)


def _wrap(text: str, width: float, max_lines: int) -> list[str]:
    """Greedy line breaking: at spaces for Latin text, between any two CJK characters."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(" ".join(text.split())):
        if token.isspace():
            if line:
                line += " "
            continue
        while _width(token) > width and len(token) > 1:  # a word too long for any line
            cut = len(token)
            while cut > 1 and _width(line + token[:cut]) > width:
                cut -= 1
            if _width(line + token[:cut]) > width and line:
                lines.append(line.rstrip())
                line = ""
                continue
            lines.append(line + token[:cut])
            line, token = "", token[cut:]
        if line and _width(line + token) > width:
            lines.append(line.rstrip())
            line = ""
        line += token
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _width(last + "…") > width:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines
