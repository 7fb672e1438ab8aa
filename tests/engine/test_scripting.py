"""The restricted script environment: escapes refused, budgets enforced, scripts still useful."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from app.clock import FrozenSource, clock
from app.engine.scripting import (
    ScriptError,
    ScriptForbidden,
    ScriptLimitExceeded,
    ScriptLimits,
    ScriptTimeout,
    compile_restricted,
    create_script_engine,
    register_helper,
    unregister_helper,
)

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def frozen_clock():
    clock.use(FrozenSource(NOW))
    yield clock
    clock.reset()


def run(script: str, data: dict[str, Any] | None = None, **limits: Any) -> dict[str, Any]:
    data = {} if data is None else data
    engine = create_script_engine(limits=ScriptLimits(**limits))
    engine.environment.execute(script, data)
    return data


def evaluate(expression: str, data: dict[str, Any] | None = None, **limits: Any) -> Any:
    engine = create_script_engine(limits=ScriptLimits(**limits))
    return engine.environment.evaluate(expression, data or {})


ESCAPES = [
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "object.__subclasses__()",
    "__import__('os').system('id')",
    "import os",
    "from os import system",
    "open('/etc/passwd').read()",
    "getattr((), '__class__')",
    "getattr(len, '__self__')",
    "setattr(x, 'y', 1)",
    "eval('1 + 1')",
    "exec('y = 1')",
    "compile('1', 'x', 'eval')",
    "globals()",
    "vars()",
    "locals()",
    "dir()",
    "'{0.__class__}'.format(x)",
    "'{0.__class__.__mro__}'.format(x)",
    "str.format('{0.__class__}', x)",
    "'{a.__class__}'.format_map({'a': x})",
    "type(x)",
    "type('X', (), {})",
    "int.mro()",
    "(y for y in [1]).gi_frame.f_globals",
    "(y for y in [1]).gi_frame.f_back",
    "(y for y in [1]).gi_code",
    "(lambda: 0).__globals__",
    "(lambda: 0).func_globals",
    "now.__globals__['clock']",
    "len.__self__",
    "x.__dict__",
    "breakpoint()",
    "help()",
    "exit()",
    "quit()",
    "memoryview(b'x')",
    "super()",
    "print('hello')",
    "class A:\n    pass",
    "global x",
    "def f():\n    nonlocal x",
    "def f():\n    yield 1",
    "async def f():\n    pass",
    "with x:\n    pass",
    "try:\n    1 / 0\nexcept Exception as e:\n    e.__traceback__.tb_frame.f_globals",
    "try:\n    1 / 0\nexcept Exception as e:\n    tb = e.with_traceback(None)\n    tb.tb_frame",
    "match x:\n    case int(__class__=c):\n        pass",
    "f'{x.__class__}'",
    "f'{x:{width}}'",
    "f'{x:>1000000000}'",
    "def f(__builtins__):\n    pass",
    "_secret = 1",
    "datetime.now()",
    "date.today()",
    "'x'.ljust(10 ** 9)",
]


@pytest.mark.parametrize("script", ESCAPES, ids=ESCAPES)
def test_escape_is_refused_before_running(script: str) -> None:
    with pytest.raises(ScriptForbidden, match=r"^line \d+: .* is not allowed$"):
        run(script, {"x": 1, "width": 10})


def test_refusal_names_line_and_construct() -> None:
    with pytest.raises(ScriptForbidden) as caught:
        run("a = 1\nimport os")
    assert str(caught.value) == "line 2: import is not allowed"
    assert caught.value.lineno == 2


@pytest.mark.parametrize(
    "expression",
    ["__import__('os')", "().__class__", "eval('1')", "'{0.__class__}'.format(1)"],
)
def test_expressions_are_restricted_too(expression: str) -> None:
    with pytest.raises(ScriptForbidden):
        evaluate(expression)


def test_task_data_cannot_smuggle_real_builtins() -> None:
    data = {"__builtins__": __builtins__, "_ef_tick": None}
    with pytest.raises(NameError):
        run("y = hash", data)
    assert run("y = 1 + 1", data)["y"] == 2


LIMITS = [
    "'x' * 10 ** 10",
    "[0] * 10 ** 9",
    "10 ** 10 ** 10",
    "1 << 10 ** 10",
    "range(10 ** 9)",
    "list(range(10 ** 30))",
    "'%*s' % (10 ** 9, '')",
    "'%1000000000d' % 1",
    "s = 'x'\nwhile True:\n    s = s + s",
    "s = 'x'\nwhile True:\n    s += s",
    "n = 3\nwhile True:\n    n *= n",
    "sum([[0] * 1000] * 1000, [])",
]


@pytest.mark.parametrize("script", LIMITS, ids=LIMITS)
def test_huge_values_are_refused(script: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptLimitExceeded, match=r"^line \d+: "):
        run(script, time_budget=5)
    assert time.monotonic() - started < 1


RUNAWAYS = [
    "while True:\n    pass",
    "for i in range(10 ** 6):\n    for j in range(10 ** 6):\n        pass",
    "try:\n    while True:\n        pass\nexcept Exception:\n    pass",
    "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n"
    "        pass",
    "def f(n):\n    return f(n - 1) + f(n - 1) if n else 1\nf(60)",
    "f = lambda n: f(n - 1) + f(n - 1) if n else 1\nf(60)",
    "total = sum(1 for a in range(10 ** 6) for b in range(10 ** 6))",
    "l = [1]\nlist(map(l.append, l))",
    "l = [1]\nlist(filter(l.append, l))",
]


@pytest.mark.parametrize("script", RUNAWAYS, ids=RUNAWAYS)
def test_runaway_script_fails_within_budget(script: str) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptTimeout):
        run(script, time_budget=0.05)
    assert time.monotonic() - started < 0.5


def test_timeout_names_the_line() -> None:
    with pytest.raises(ScriptTimeout, match=r"^line 2: script exceeded its time budget of 0.05 s$"):
        run("x = 1\nwhile True:\n    x = 2", time_budget=0.05)


def test_expression_timeout() -> None:
    with pytest.raises(ScriptTimeout):
        evaluate("any(a < 0 for a in range(10 ** 6) for b in range(10 ** 6))", time_budget=0.05)


def test_script_reads_and_writes_task_data() -> None:
    data = {"items": [{"fen": 1200}, {"fen": 800}], "keep": "me", "drop": 1, "_internal": "x"}
    script = """
total = 0
for item in items:
    total += item["fen"]
counts = {k: len(k) for k in ["a", "bb"]}
big = [i["fen"] for i in items if i["fen"] > 1000]
pairs = sorted((b, a) for a, b in enumerate(["x", "y"]))
items.append({"fen": 1})
names = ", ".join(str(n) for n in range(3))
square = (lambda v: v * v)(4)
def double(v):
    return v * 2
doubled = double(21)
del drop
"""
    run(script, data)
    assert data["total"] == 2000
    assert data["counts"] == {"a": 1, "bb": 2}
    assert data["big"] == [1200]
    assert data["pairs"] == [("x", 0), ("y", 1)]
    assert len(data["items"]) == 3
    assert data["names"] == "0, 1, 2"
    assert (data["square"], data["doubled"]) == (16, 42)
    assert "drop" not in data and "double" not in data and "__builtins__" not in data
    assert data["keep"] == "me" and data["_internal"] == "x"
    assert not any(key.startswith("_ef") for key in data)


def test_failed_script_leaves_task_data_unassigned() -> None:
    data = {"a": 1}
    with pytest.raises(ZeroDivisionError):
        run("a = 2\nb = 1 / 0", data)
    assert data == {"a": 1}


def test_task_data_may_share_a_helper_name() -> None:
    data = {"date": "2024-05-01"}
    run("parsed = parse_date(date)\nnow = 5", data)
    assert data == {"date": "2024-05-01", "parsed": date(2024, 5, 1), "now": 5}


def test_a_bare_name_evaluates_to_the_data_value() -> None:
    """A bare variable name (correlations, service parameters, gateway flags) gives the data's
    own value, as evaluating it always did; keywords, guard names and names missing from the
    data still go through the restricted evaluation."""
    engine = create_script_engine()
    bills = [{"number": "ZD-1"}]
    data = {"bills": bills, "now": "shadowed helper", "True": "not a keyword"}
    assert engine.environment.evaluate("bills", data) is bills
    assert engine.environment.evaluate("now", data) == "shadowed helper"
    assert engine.environment.evaluate("True", data) is True
    assert callable(engine.environment.evaluate("now", {}))  # the helper itself
    with pytest.raises(NameError):
        engine.environment.evaluate("missing", data)
    with pytest.raises(ScriptForbidden):
        engine.environment.evaluate("_ef_tick", {"_ef_tick": 1})


def test_ordinary_python_still_works() -> None:
    data = run(
        "s = set([1, 2])\ns.add(3)\nt = tuple(reversed([1, 2]))\nm = max([3, 1, 2])\n"
        "n = min(4, 2)\np = 2 ** 10\nq = '%s-%05d' % ('A', 42)\nr = f'{p:,} {3.14159:.2f}'\n"
        "z = list(zip('ab', range(2)))\nw = next((i for i in [5, 6] if i > 5), None)\n"
        "try:\n    raise ValueError('bad')\nexcept ValueError as e:\n    err = str(e)\n"
        "for _ in range(2):\n    pass\nwhile p > 1000:\n    p = p // 2\n"
        "ok = isinstance(p, int) and any([0, 1]) and all([1])"
    )
    assert data["s"] == {1, 2, 3} and data["t"] == (2, 1) and (data["m"], data["n"]) == (3, 2)
    assert data["q"] == "A-00042" and data["r"] == "1,024 3.14"
    assert data["z"] == [("a", 0), ("b", 1)] and data["w"] == 6
    assert data["err"] == "bad" and data["p"] == 512 and data["ok"] is True


def test_helpers(frozen_clock) -> None:
    data = run(
        "n = now()\nd = today()\nlater = iso(add_hours(now(), 2))\nnext_week = add_days(d, 7)\n"
        "gap = days_between(parse_date('2024-05-01'), parse_date('2024-05-31T08:00:00'))\n"
        "ttl = duration('PT2H') + timedelta(minutes=30)\nwhen = iso(ttl)\n"
        "money = fmt_money_fen(123450)\nneg = fmt_money_fen(-5)\n"
        "shown = fmt_date(n, '%Y-%m-%d %H:%M', tz='Asia/Shanghai')\n"
        "local = today('Asia/Shanghai')\n"
        "start = datetime(2024, 1, 1, tzinfo=n.tzinfo)"
    )
    assert data["n"] == NOW and data["d"] == date(2024, 5, 1)
    assert data["later"] == "2024-05-01T11:30:00+00:00"
    assert data["next_week"] == date(2024, 5, 8)
    assert data["gap"] == 30
    assert data["ttl"] == timedelta(hours=2, minutes=30) and data["when"] == "PT2H30M"
    assert (data["money"], data["neg"]) == ("¥1,234.50", "-¥0.05")
    assert data["shown"] == "2024-05-01 17:30" and data["local"] == date(2024, 5, 1)
    assert data["start"] == datetime(2024, 1, 1, tzinfo=UTC)


def test_registered_helper_is_offered() -> None:
    def add_business_hours(project_id: int, start: datetime, hours: float) -> datetime:
        return start + timedelta(hours=hours * project_id)

    register_helper("add_business_hours", add_business_hours)
    try:
        data = run("due = add_business_hours(2, parse_date('2024-05-01T08:00:00'), 3)")
        assert data["due"] == datetime(2024, 5, 1, 14, tzinfo=UTC)
        with pytest.raises(ValueError):
            register_helper("add_business_hours", lambda: None)
        with pytest.raises(ValueError):
            register_helper("_hidden", lambda: None)
    finally:
        unregister_helper("add_business_hours")
    with pytest.raises(NameError):
        run("due = add_business_hours(1, now(), 1)")


def test_environment_globals_are_offered_but_not_copied_into_data() -> None:
    engine = create_script_engine({"vat_rate": 6, "lookup": {"a": 1}.get})
    data: dict[str, Any] = {}
    engine.environment.execute("x = lookup('a') + vat_rate", data)
    assert data == {"x": 7}
    with pytest.raises(ValueError):
        create_script_engine({"__builtins__": {}})


def test_compiled_code_is_cached() -> None:
    assert compile_restricted("a + 1", "eval") is compile_restricted("a + 1", "eval")


def test_engine_wraps_errors_for_spiff() -> None:
    engine = create_script_engine()
    task = SimpleNamespace(data={"a": 1}, task_spec=SimpleNamespace(bpmn_name="t"))
    assert engine.evaluate(task, "a + 1") == 2
    with pytest.raises(SyntaxError):
        engine.validate("> 5")
    with pytest.raises(ScriptForbidden):
        engine.validate("import os")
    assert issubclass(ScriptTimeout, ScriptError) and issubclass(ScriptForbidden, ScriptError)


# ---------------------------------------------------------------- through SpiffWorkflow

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="scripting_flow" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute" name="Compute">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:businessRuleTask id="rate" name="Rate">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>priority</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:exclusiveGateway id="big_q" default="f_small">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f_big</bpmn:outgoing>
      <bpmn:outgoing>f_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:scriptTask id="mark_big"><bpmn:incoming>f_big</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing><bpmn:script>branch = "big"</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="mark_small"><bpmn:incoming>f_small</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing><bpmn:script>branch = "small"</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end_big"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end_small"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="rate"/>
    <bpmn:sequenceFlow id="f3" sourceRef="rate" targetRef="big_q"/>
    <bpmn:sequenceFlow id="f_big" sourceRef="big_q" targetRef="mark_big">
      <bpmn:conditionExpression>total &gt; 1000 and label.startswith("¥")</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="big_q" targetRef="mark_small"/>
    <bpmn:sequenceFlow id="f4" sourceRef="mark_big" targetRef="end_big"/>
    <bpmn:sequenceFlow id="f5" sourceRef="mark_small" targetRef="end_small"/>
  </bpmn:process>
</bpmn:definitions>
"""

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dmn" name="dmn"
    namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="priority" name="Priority">
    <decisionTable id="priority_table">
      <input id="in_total" label="Total">
        <inputExpression id="in_total_expr" typeRef="integer"><text>total</text></inputExpression>
      </input>
      <output id="out_priority" label="Priority" name="priority" typeRef="string"/>
      <rule id="r_high">
        <inputEntry id="r_high_in"><text>&gt; 1000</text></inputEntry>
        <outputEntry id="r_high_out"><text>"high"</text></outputEntry>
      </rule>
      <rule id="r_low">
        <inputEntry id="r_low_in"><text>? &lt;= 1000</text></inputEntry>
        <outputEntry id="r_low_out"><text>"low:" + fmt_money_fen(total)</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""

COMPUTE = "total = sum(line['fen'] for line in lines)\nlabel = fmt_money_fen(total)"


def make_workflow(script: str, data: dict[str, Any]) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.replace("{script}", escape(script)).encode())
    parser.add_dmn_str(DMN.encode())
    workflow = BpmnWorkflow(parser.get_spec("scripting_flow"), script_engine=create_script_engine())
    start = workflow.get_tasks(state=TaskState.READY)[0]
    start.data.update(data)
    return workflow


@pytest.mark.parametrize(
    ("lines", "branch", "priority"),
    [([{"fen": 900}, {"fen": 300}], "big", "high"), ([{"fen": 900}], "small", "low:¥9.00")],
)
def test_bpmn_script_task_gateway_and_dmn(lines, branch, priority) -> None:
    workflow = make_workflow(COMPUTE, {"lines": lines})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    data = workflow.last_task.data
    assert data["branch"] == branch and data["priority"] == priority
    assert data["total"] == sum(line["fen"] for line in lines)


def test_bpmn_forbidden_script_fails_the_task() -> None:
    workflow = make_workflow("total = 1\nimport os\nlabel = 'x'", {})
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    assert isinstance(caught.value.__cause__ or caught.value, Exception)
    assert "line 2: import is not allowed" in str(caught.value)
    assert caught.value.line_number == 2
    assert not workflow.is_completed()


def test_bpmn_runaway_script_fails_the_task() -> None:
    workflow = make_workflow("while True:\n    pass", {})
    workflow.script_engine = create_script_engine(limits=ScriptLimits(time_budget=0.05))
    started = time.monotonic()
    with pytest.raises(WorkflowTaskException, match="time budget"):
        workflow.do_engine_steps()
    assert time.monotonic() - started < 0.5
