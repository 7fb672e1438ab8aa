"""The restricted environment for BPMN script tasks and expressions.

Every script task, gateway condition, timer expression, DMN entry, multi-instance and
data-object expression runs here (SpiffWorkflow calls both the engine and, in places, the
environment directly, so the restrictions live in :class:`RestrictedEnvironment`).

How it is restricted:

* **Validated before compile** (:func:`compile_restricted`, cached by source text): no import,
  global/nonlocal, class, async, yield or with; no name, attribute, argument or pattern name
  starting with ``_`` (a bare ``_`` is allowed as a throwaway name); no names such as ``eval``,
  ``exec``, ``compile``, ``open``, ``getattr``, ``globals``, ``vars``, ``type``, ``object``,
  ``breakpoint``, ``help``, ``exit`` (see ``FORBIDDEN_NAMES``); no attributes that walk to
  frames, code or the class graph (``format``, ``format_map``, ``mro``, ``gi_frame``,
  ``f_globals``, ``f_back``, anything ``gi_``/``cr_``/``ag_``/``f_``/``co_``/``tb_``/``func_``),
  none that pads a string to a script-chosen width (``ljust``, ``zfill``, …) and none that reads
  the wall clock around the engine clock (``now``, ``today``, ``utcnow``). f-string format specs
  must be literal, with widths up to ``MAX_FORMAT_WIDTH``. Refusals raise
  :class:`ScriptForbidden`: ``"line 1: import is not allowed"``.
* **Builtins** are a short list of safe ones (``SAFE_BUILTINS``); ``range`` is bounded and
  ``map``/``filter``/``min``/``max``/``sum`` are wrapped so C code cannot loop unchecked.
* **Time**: the code is instrumented with a wall-clock check at the top of every loop body,
  function and lambda, and around every comprehension iterable (default budget 1 s, see
  :class:`ScriptLimits`). A script over budget raises :class:`ScriptTimeout`, even if it
  catches the exception itself.
* **Size**: ``*``, ``**``, ``<<``, ``+`` and ``%`` are checked before they run, so
  ``'x' * 10**10``, ``10**10**10`` or ``'%*s' % (10**9, '')`` raise
  :class:`ScriptLimitExceeded` instead of allocating. This is best effort (``str.replace`` or
  ``str.join`` can still build large strings); the worker's memory limit is the backstop.

Task data is read and written like SpiffWorkflow's TaskDataEnvironment: names a script assigns
end up in the task data, deleted names leave it, functions and helpers do not enter it. Unlike
TaskDataEnvironment, assignments reach the task data only if the script completes, and a task
data field may share a helper's name (the field wins inside the script).

Helpers (:mod:`app.engine.script_helpers`), pure and without I/O:

* dates: ``now(tz=None)`` (engine clock, aware UTC or the IANA zone ``tz``), ``today(tz=None)``,
  ``add_days(d, n)``, ``add_hours(dt, n)``, ``parse_date(s)``, ``iso(value)``,
  ``days_between(a, b)``, ``duration("PT2H")``, and the classes ``datetime``, ``date``,
  ``timedelta``;
* formatting: ``fmt_money_fen(123450)`` → ``"¥1,234.50"``, ``fmt_date(d, pattern, tz=None)``;
* lookups added by domains through :func:`register_helper`, e.g. the complaints domain's
  ``add_business_hours(project_id, start, hours)``.
"""

from __future__ import annotations

import ast
import copy
import keyword
import operator
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from types import CodeType
from typing import Any, NoReturn

from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine

from app.engine.script_helpers import register_helper, registered_helpers, unregister_helper

__all__ = [
    "RestrictedEnvironment",
    "RestrictedScriptEngine",
    "ScriptError",
    "ScriptForbidden",
    "ScriptLimitExceeded",
    "ScriptLimits",
    "ScriptTimeout",
    "compile_restricted",
    "create_script_engine",
    "register_helper",
    "unregister_helper",
]

# SpiffWorkflow finds the failing line by looking for this file name in the traceback.
SCRIPT_FILENAME = "<string>"
MAX_FORMAT_WIDTH = 1_000

FORBIDDEN_NAMES = frozenset(
    {
        "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr",
        "globals", "locals", "vars", "dir", "type", "object", "input", "print", "breakpoint",
        "help", "exit", "quit", "memoryview", "super", "classmethod", "staticmethod", "property",
        "iter", "aiter", "anext", "bytearray", "id", "copyright", "credits", "license",
    }
)  # fmt: skip
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "format", "format_map", "mro",  # format strings walk attributes; mro reaches object
        "now", "utcnow", "today",  # the wall clock; scripts use the engine clock's now()/today()
        "ljust", "rjust", "center", "zfill", "expandtabs",  # a script-chosen width allocates
    }
)  # fmt: skip
FORBIDDEN_ATTRIBUTE_PREFIXES = ("_", "gi_", "cr_", "ag_", "f_", "co_", "tb_", "func_")
FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.ClassDef: "class definition",
    ast.AsyncFunctionDef: "async",
    ast.AsyncFor: "async",
    ast.AsyncWith: "async",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.With: "with",
}


class ScriptError(Exception):
    """A script or expression broke a rule of the restricted environment."""

    def __init__(self, message: str, *, lineno: int = 0) -> None:
        super().__init__(message)
        self.lineno = lineno


class ScriptForbidden(ScriptError):
    """The script uses a construct that is not allowed (found before it runs)."""


class ScriptTimeout(ScriptError):
    """The script ran longer than its time budget."""


class ScriptLimitExceeded(ScriptError):
    """The script asked for a value larger than the limits allow (huge string, number, range)."""


@dataclass(frozen=True)
class ScriptLimits:
    """Budgets for one script or expression evaluation."""

    time_budget: float = 1.0  # seconds of wall clock
    max_range: int = 1_000_000  # items in one range()
    max_sequence: int = 1_000_000  # items/characters built by one + or *
    max_int_bits: int = 100_000  # bits of an integer built by one *, ** or <<


# ---------------------------------------------------------------- validation and compile


def _forbid(node: ast.AST, what: str) -> ScriptForbidden:
    line = getattr(node, "lineno", 0)
    return ScriptForbidden(f"line {line}: {what} is not allowed", lineno=line)


def _check_binding(node: ast.AST, name: str | None) -> None:
    if name and name != "_" and (name.startswith("_") or name in FORBIDDEN_NAMES):
        raise _forbid(node, f"name {name!r}")


def _check_attribute(node: ast.AST, attr: str) -> None:
    if attr.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES) or attr in FORBIDDEN_ATTRIBUTES:
        raise _forbid(node, f"attribute {attr!r}")


def _check_format_spec(node: ast.FormattedValue) -> None:
    spec = node.format_spec
    if not isinstance(spec, ast.JoinedStr):
        return
    for part in spec.values:
        if not isinstance(part, ast.Constant):
            raise _forbid(node, "a computed format specification")
        for digits in re.findall(r"\d+", str(part.value)):
            if int(digits) > MAX_FORMAT_WIDTH:
                raise _forbid(node, f"format width {digits} (max {MAX_FORMAT_WIDTH})")


def _validate(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        kind = type(node)
        if kind in FORBIDDEN_NODES:
            raise _forbid(node, FORBIDDEN_NODES[kind])
        if isinstance(node, ast.Name):
            _check_binding(node, node.id)
        elif isinstance(node, ast.Attribute):
            _check_attribute(node, node.attr)
        elif isinstance(node, ast.FunctionDef | ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            _check_binding(node, node.name)
        elif isinstance(node, ast.arg):
            _check_binding(node, node.arg)
        elif isinstance(node, ast.MatchMapping):
            _check_binding(node, node.rest)
        elif isinstance(node, ast.MatchClass):
            for attr in node.kwd_attrs:
                _check_attribute(node, attr)
        elif isinstance(node, ast.FormattedValue):
            _check_format_spec(node)


_TICK = "_ef_tick"
_ITER = "_ef_iter"
_GUARDED_OPS: dict[type[ast.operator], str] = {
    ast.Add: "add",
    ast.Mult: "mult",
    ast.Pow: "pow",
    ast.LShift: "lshift",
    ast.Mod: "mod",
}


def _is_number(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and abs(node.value) <= MAX_FORMAT_WIDTH
    )


def _call(name: str, args: list[ast.expr], where: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])
    return ast.copy_location(call, where)


class _Instrument(ast.NodeTransformer):
    """Adds budget checks and size guards to validated code."""

    def _tick_first(self, node: ast.For | ast.While | ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body.insert(0, ast.copy_location(ast.Expr(_call(_TICK, [], node)), node))
        return node

    visit_For = visit_While = visit_FunctionDef = _tick_first  # noqa: N815

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        # tick() returns None, so `tick() or body` is body, checked on every call
        node.body = ast.copy_location(
            ast.BoolOp(op=ast.Or(), values=[_call(_TICK, [], node), node.body]), node.body
        )
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.iter = _call(_ITER, [node.iter], node.iter)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        name = _GUARDED_OPS.get(type(node.op))
        # `x + 1` cannot grow a value much, and it is much of what conditions do
        if name is None or (name == "add" and (_is_number(node.left) or _is_number(node.right))):
            return node
        return _call(f"_ef_{name}", [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        name = _GUARDED_OPS.get(type(node.op))
        if name is None or (name == "add" and _is_number(node.value)):
            return node
        current = copy.deepcopy(node.target)
        current.ctx = ast.Load()
        # the check returns the operand unchanged; the in-place operator itself still runs
        node.value = _call(f"_ef_{name}_check", [current, node.value], node)
        return node


@lru_cache(maxsize=4096)
def _is_plain_name(expression: str) -> bool:
    """A variable name and nothing else (no keyword, no guard name)."""
    return (expression.isidentifier() and not keyword.iskeyword(expression)
            and not expression.startswith("_"))


@lru_cache(maxsize=4096)
def compile_restricted(source: str, mode: str = "exec") -> CodeType:
    """Validate and instrument ``source`` (``mode`` "exec" or "eval") and compile it.

    Raises SyntaxError for invalid Python and :class:`ScriptForbidden` for a forbidden
    construct; compiled code is cached by source text.
    """
    text = source.strip() if mode == "eval" else textwrap.dedent(source)
    tree = ast.parse(text, filename=SCRIPT_FILENAME, mode=mode)
    _validate(tree)
    tree = ast.fix_missing_locations(_Instrument().visit(tree))
    return compile(tree, SCRIPT_FILENAME, mode)


# ---------------------------------------------------------------- runtime guards


@dataclass
class _Budget:
    deadline: float
    seconds: float
    expired: bool = False


_BUDGET: ContextVar[_Budget | None] = ContextVar("estateflow_script_budget", default=None)


def _script_line() -> int:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return 0


def _expire(budget: _Budget) -> NoReturn:
    budget.expired = True
    line = _script_line()
    raise ScriptTimeout(
        f"line {line}: script exceeded its time budget of {budget.seconds:g} s", lineno=line
    )


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        _expire(budget)


def _checked_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _BUDGET.get()
    for item in iterable:
        if budget is not None and time.monotonic() > budget.deadline:
            _expire(budget)
        yield item


def _limit(what: str) -> NoReturn:
    line = _script_line()
    raise ScriptLimitExceeded(f"line {line}: {what}", lineno=line)


def _map(func: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
    return map(func, *(_checked_iter(iterable) for iterable in iterables))


def _filter(func: Callable[[Any], Any] | None, iterable: Iterable[Any]) -> Iterator[Any]:
    return filter(func, _checked_iter(iterable))


def _min(*args: Any, **kwargs: Any) -> Any:
    return min(*(args if len(args) > 1 else [_checked_iter(args[0])]), **kwargs)


def _max(*args: Any, **kwargs: Any) -> Any:
    return max(*(args if len(args) > 1 else [_checked_iter(args[0])]), **kwargs)


def _sum(iterable: Iterable[Any], /, start: Any = 0) -> Any:
    # a list or tuple start would make sum() concatenate quadratically inside C code
    if not isinstance(start, int | float | complex | timedelta):
        _limit("sum() start must be a number or a timedelta")
    return sum(_checked_iter(iterable), start)


_SEQUENCES = (str, bytes, list, tuple)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")


class _Guards:
    """Size checks for one set of limits, published to scripts as ``_ef_*`` names."""

    def __init__(self, limits: ScriptLimits) -> None:
        self.limits = limits

    def range(self, *args: int) -> range:
        result = range(*args)
        try:
            size = len(result)
        except OverflowError:
            size = self.limits.max_range + 1
        if size > self.limits.max_range:
            _limit(f"range() of {size} items exceeds the limit of {self.limits.max_range}")
        return result

    def _check_sequence(self, size: int) -> None:
        if size > self.limits.max_sequence:
            _limit(f"a sequence of {size} items exceeds the limit of {self.limits.max_sequence}")

    def _check_bits(self, bits: int) -> None:
        if bits > self.limits.max_int_bits:
            _limit(f"a number of about {bits} bits exceeds the limit of {self.limits.max_int_bits}")

    def check_add(self, a: Any, b: Any) -> None:
        if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
            self._check_sequence(len(a) + len(b))

    def check_mult(self, a: Any, b: Any) -> None:
        if isinstance(a, int) and isinstance(b, int):
            self._check_bits(a.bit_length() + b.bit_length())
        elif isinstance(a, _SEQUENCES) and isinstance(b, int):
            self._check_sequence(len(a) * b)
        elif isinstance(b, _SEQUENCES) and isinstance(a, int):
            self._check_sequence(len(b) * a)

    def check_pow(self, a: Any, b: Any) -> None:
        if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
            self._check_bits(a.bit_length() * b)

    def check_lshift(self, a: Any, b: Any) -> None:
        if isinstance(a, int) and isinstance(b, int) and a != 0 and b > 0:
            self._check_bits(a.bit_length() + b)

    def check_mod(self, a: Any, b: Any) -> None:
        if not isinstance(a, str | bytes):
            return
        text = a if isinstance(a, str) else a.decode("latin-1")
        args = b if isinstance(b, tuple) else (b,)
        for spec in _PERCENT_SPEC.finditer(text):
            for width in spec.groups():
                if width == "*":
                    too_wide = any(isinstance(x, int) and abs(x) > MAX_FORMAT_WIDTH for x in args)
                else:
                    too_wide = width is not None and int(width) > MAX_FORMAT_WIDTH
                if too_wide:
                    _limit(f"a %-format width above {MAX_FORMAT_WIDTH}")

    def names(self) -> dict[str, Any]:
        names: dict[str, Any] = {_TICK: _tick, _ITER: _checked_iter}
        functions = {"add": operator.add, "mult": operator.mul, "pow": operator.pow}
        functions |= {"lshift": operator.lshift, "mod": operator.mod}
        for name, function in functions.items():
            check = getattr(self, f"check_{name}")
            names[f"_ef_{name}"] = _guarded(check, function)
            names[f"_ef_{name}_check"] = _checked_operand(check)
        return names


def _guarded(check: Callable[[Any, Any], None], function: Callable[[Any, Any], Any]) -> Any:
    def guarded(a: Any, b: Any) -> Any:
        check(a, b)
        return function(a, b)

    return guarded


def _checked_operand(check: Callable[[Any, Any], None]) -> Any:
    def checked(current: Any, operand: Any) -> Any:
        check(current, operand)
        return operand

    return checked


SAFE_BUILTINS: dict[str, Any] = {
    function.__name__: function
    for function in (
        abs, all, any, bool, chr, dict, divmod, enumerate, float, frozenset, int, isinstance,
        len, list, next, ord, repr, reversed, round, set, sorted, str, tuple, zip,
        Exception, ArithmeticError, AssertionError, IndexError, KeyError, LookupError,
        RuntimeError, StopIteration, TypeError, ValueError, ZeroDivisionError,
    )
} | {"map": _map, "filter": _filter, "min": _min, "max": _max, "sum": _sum}  # fmt: skip


# ---------------------------------------------------------------- environment and engine


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates expressions and executes scripts against task data, restricted."""

    def __init__(
        self,
        environment_globals: dict[str, Any] | None = None,
        limits: ScriptLimits | None = None,
    ) -> None:
        for name in environment_globals or {}:
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"invalid script global name {name!r}")
        super().__init__(dict(environment_globals or {}))
        self.limits = limits or ScriptLimits()
        guards = _Guards(self.limits)
        builtins = SAFE_BUILTINS | {"range": guards.range}
        # set last on every call, so task data can never replace them
        self._protected: dict[str, Any] = guards.names() | {"__builtins__": builtins}
        self._base_version = -1
        self._base: dict[str, Any] = {}

    def _namespace(self, context: dict[str, Any], external: dict[str, Any]) -> dict[str, Any]:
        version, helpers = registered_helpers()
        if version != self._base_version:
            self._base = helpers | self.globals
            self._base_version = version
        namespace = self._base | external
        namespace.update(context)
        namespace.update(self._protected)
        return namespace

    def _run(self, code: CodeType, namespace: dict[str, Any]) -> Any:
        budget = _Budget(time.monotonic() + self.limits.time_budget, self.limits.time_budget)
        token = _BUDGET.set(budget)
        try:
            result = eval(code, namespace)  # noqa: S307 - validated and instrumented above
        except Exception as error:
            if budget.expired and not isinstance(error, ScriptTimeout):
                raise ScriptTimeout(
                    f"script exceeded its time budget of {budget.seconds:g} s"
                ) from error
            raise
        finally:
            _BUDGET.reset(token)
        if budget.expired:  # the script caught its ScriptTimeout; it still failed
            raise ScriptTimeout(f"script exceeded its time budget of {budget.seconds:g} s")
        return result

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        if _is_plain_name(expression) and expression in context \
                and expression not in self._protected:
            # A bare variable name (a correlation, a service parameter, a gateway flag): its
            # value, as evaluating it would give, without building a namespace for it.
            return context[expression]
        code = compile_restricted(expression, "eval")
        return self._run(code, self._namespace(context, external_context or {}))

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> bool:
        external = external_context or {}
        code = compile_restricted(script, "exec")
        namespace = self._namespace(context, external)
        self._run(code, namespace)
        result = {}
        for key, value in namespace.items():
            if key in self._protected or callable(value):
                continue
            if key not in context and (
                (key in external and external[key] is value)
                or (key in self._base and self._base[key] is value)
            ):
                continue
            result[key] = value
        context.clear()
        context.update(result)
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine over a :class:`RestrictedEnvironment`."""

    environment: RestrictedEnvironment

    def __init__(self, environment: RestrictedEnvironment | None = None) -> None:
        super().__init__(environment or RestrictedEnvironment())

    def validate(self, expression: str) -> None:
        """Raise SyntaxError or :class:`ScriptForbidden` (deployment checks, DMN parsing)."""
        compile_restricted(expression, "exec")

    def get_error_line_number_and_content(self, script: str, err: Exception) -> tuple[int, str]:
        if isinstance(err, ScriptError) and err.lineno:
            lines = script.splitlines()
            return err.lineno, lines[err.lineno - 1] if err.lineno <= len(lines) else ""
        return super().get_error_line_number_and_content(script, err)


def create_script_engine(
    environment_globals: dict[str, Any] | None = None,
    *,
    limits: ScriptLimits | None = None,
) -> RestrictedScriptEngine:
    """A restricted engine for BpmnWorkflow, offering the helpers and ``environment_globals``."""
    return RestrictedScriptEngine(RestrictedEnvironment(environment_globals, limits))
