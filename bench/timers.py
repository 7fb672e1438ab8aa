"""Timer scheduler benchmark: (a) a pass with 100,000 waiting instances and none due, (b) a pass
with 1,000 due, (c) the delay between due time and firing with the real in-process scheduler.

Targets: (a) <= 20 ms, (b) <= 5 s, (c) p95 <= 5 s.

    .venv/bin/python -m bench.timers [--postgres] [--waiting N] [--due N] [--timers N]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app.audit.actor import Actor, acting_as
from app.clock import FrozenSource, clock
from app.engine import runtime, scheduler, timer_jobs
from app.engine.deployments import deploy
from app.engine.models import InstanceEvent, ProcessInstance
from app.extensions import db
from app.projects import operations as projects
from app.uow import unit_of_work
from bench.common import bench_database, make_app, percentile, summary

FLOW = "bench_timer"
BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_bench" targetNamespace="http://estateflow.example/bpmn">
  <bpmn:process id="bench_timer" name="Bench timer" isExecutable="true">
    <bpmn:startEvent id="Event_start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait" name="Wait">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="T"><bpmn:timeDuration>wait_for</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="Follow_up" name="Follow up">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="bench/any.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="Event_end"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Event_start" targetRef="Wait" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Follow_up" />
    <bpmn:sequenceFlow id="F3" sourceRef="Follow_up" targetRef="Event_end" />
  </bpmn:process>
</bpmn:definitions>
"""
#: Parts (a) and (b) run on a frozen clock at T0; part (c) on the real one. The waiting rows
#: fall due a day or more after T0, so T0 is the real time (to the minute): rows dated after a
#: fixed day would have fallen due in part (c) once that day was past, and the real-time timers
#: would queue behind 100,000 of them.
T0 = datetime.now(UTC).replace(second=0, microsecond=0)


def setup(app: Any) -> tuple[int, int, str]:
    """Project, deployment and one real instance waiting an hour: (project, deployment, state)."""
    clock.use(FrozenSource(T0))
    with app.app_context(), acting_as(Actor(None, "bench")), unit_of_work():
        project = projects.create_project("BENCH", "Bench estate")
        deployment, _ = deploy({f"processes/{FLOW}.bpmn": BPMN,
                                "forms/bench/any.json": b'{"type": "object"}'})
        instance = runtime.start_instance(FLOW, project.id, {"wait_for": "PT1H"})
        assert instance.next_timer_due == T0 + timedelta(hours=1)
        return project.id, deployment.id, instance.state


def bulk_insert(app: Any, project_id: int, deployment_id: int, state: str, n: int,
                due: datetime, *, spread: timedelta = timedelta(0)) -> None:
    """n waiting instances whose timers fall due from ``due`` on (``spread`` apart in total)."""
    table = ProcessInstance.__table__
    now = T0
    with app.app_context():
        for start in range(0, n, 5000):
            rows = [{
                "project_id": project_id, "flow": FLOW, "deployment_id": deployment_id,
                "business_key": None, "status": "waiting", "current_steps": "Wait",
                "state": state, "lock_version": 1,
                "next_timer_due": due + spread * (i / max(n, 1)),
                "started_by_label": "bench", "started_at": now,
            } for i in range(start, min(n, start + 5000))]
            with db.engine.begin() as conn:
                conn.execute(table.insert(), rows)
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE process_instance")
            else:
                conn.exec_driver_sql("ANALYZE")


def part_a(app: Any, passes: int = 30) -> list[float]:
    """Passes over the waiting instances with none due (clock at T0)."""
    clock.use(FrozenSource(T0 + timedelta(minutes=30)))
    times = []
    with app.app_context():
        timer_jobs.fire_due()  # warm the connection pool and statement caches
        for _ in range(passes):
            start = time.perf_counter()
            fired = timer_jobs.fire_due()
            times.append(time.perf_counter() - start)
            assert fired == 0
        db.session.remove()
    return times


def part_b(app: Any, expected: int) -> tuple[float, int]:
    """One run of the job with ``expected`` instances due (clock past their due time)."""
    clock.use(FrozenSource(T0 + timedelta(hours=1, seconds=1)))
    start = time.perf_counter()
    fired = timer_jobs.run_fire_due(app)
    return time.perf_counter() - start, fired


def part_c(app: Any, project_id: int, count: int, window: float) -> list[float]:
    """Real time: ``count`` timers due over ``window`` seconds, the in-process APScheduler
    running the real jobs with the default settings; delays fired_at - due in seconds."""
    clock.reset()
    with app.app_context(), acting_as(Actor(None, "bench")), unit_of_work():
        ids = []
        for i in range(count):
            wait = 3 + window * i / count
            ids.append(runtime.start_instance(FLOW, project_id, {"wait_for": f"PT{wait:.3f}S"}).id)
    with app.app_context():
        dues = dict(db.session.execute(sa.select(ProcessInstance.id, ProcessInstance.next_timer_due)
                                       .where(ProcessInstance.id.in_(ids))).all())
        db.session.remove()
    sched = scheduler.create_scheduler(app)
    sched.start()
    try:
        deadline = time.monotonic() + window + 30
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with app.app_context():
                fired = dict(db.session.execute(
                    sa.select(InstanceEvent.instance_id, InstanceEvent.at).where(
                        InstanceEvent.instance_id.in_(ids), InstanceEvent.kind == "task_created",
                    )).all())
                db.session.remove()
            if len(fired) == count:
                break
    finally:
        sched.shutdown(wait=True)
    missing = count - len(fired)
    if missing:
        print(f"  (c) {missing} timers did not fire within the window", file=sys.stderr)
    return [(fired[i] - dues[i]).total_seconds() for i in ids if i in fired]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--waiting", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--timers", type=int, default=100)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    kind = "postgres" if args.postgres or os.environ.get("DATABASE_URL", "").startswith(
        "postgres") else "sqlite"
    results: dict[str, Any] = {"database": kind}
    with bench_database(kind) as url:
        app = make_app(url)
        project_id, deployment_id, state = setup(app)
        print(f"database: {kind}")
        start = time.perf_counter()
        # Not due: a day or more ahead. Their state is never read, so a placeholder will do.
        bulk_insert(app, project_id, deployment_id, "{}", args.waiting,
                    T0 + timedelta(days=1), spread=timedelta(days=30))
        bulk_insert(app, project_id, deployment_id, state, args.due, T0 + timedelta(hours=1))
        print(f"inserted {args.waiting:,} waiting + {args.due:,} due instances "
              f"in {time.perf_counter() - start:.1f} s")

        a = part_a(app)
        results["a_none_due_ms"] = {"p50": percentile(a, 50) * 1000,
                                    "p95": percentile(a, 95) * 1000,
                                    "mean": statistics.mean(a) * 1000}
        print(f"(a) pass, {args.waiting:,} waiting, none due: {summary(a)}  [target <= 20 ms]")

        b, fired = part_b(app, args.due + 1)
        results["b_due"] = {"instances": fired, "seconds": b, "per_instance_ms": b / fired * 1000}
        print(f"(b) pass with {fired:,} due: {b:.2f} s ({b / fired * 1000:.1f} ms per instance)"
              f"  [target <= 5 s for 1,000]")

        c = part_c(app, project_id, args.timers, args.window)
        results["c_delay_s"] = {"n": len(c), "p50": percentile(c, 50), "p95": percentile(c, 95),
                                "max": max(c) if c else None, "min": min(c) if c else None}
        print(f"(c) due -> fired over {len(c)} timers (real time, default settings): "
              f"p50 {percentile(c, 50):.2f} s, p95 {percentile(c, 95):.2f} s, "
              f"max {max(c):.2f} s  [target p95 <= 5 s]")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
