"""Engine throughput and inbox latency (issue 3).

Prints, for SQLite and PostgreSQL:
  (a) instances started and taken through 3 user tasks per second, in one process;
  (b) the same loop with the bare SpiffWorkflow library and no database, and the ratio;
  (c) p50/p95 of the "my roles" inbox page with 1,000,000 completed and 20,000 open tasks;
  (d) over HTTP against gunicorn (2 workers): start → list my tasks → 3 completions through
      /api/v1 with 1 and 8 concurrent clients: instances/s, p50/p95 per request, server CPU
      milliseconds per instance.

Usage: .venv/bin/python -m bench.engine [--db sqlite|postgres|both] [--parts abcd]
       [--instances N] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, insert, select, text

from app.accounts import operations as accounts
from app.accounts.models import User
from app.audit.actor import Actor, acting_as
from app.clock import clock
from app.engine import runtime, spiff
from app.engine.deployments import deploy, read_bundle
from app.engine.inbox import InboxFilter, inbox_query
from app.engine.models import HumanTask, ProcessInstance
from app.engine.parsing import create_parser
from app.engine.projections import open_task_rows
from app.extensions import db
from app.pagination import paginate_rows
from app.projects import operations as projects
from app.uow import unit_of_work
from bench.common import ROOT, bench_database, make_app, percentile, summary

BUNDLE = ROOT / "tests" / "fixtures" / "bundle_min"
FLOW = "ticket"
TASK_DATA: dict[str, dict[str, Any]] = {
    "Accept": {"category": "plumbing", "urgent": False},
    "Repair": {"fixed": True, "hours": 1.5},
    "Review": {"approved": True},
}
PASSWORD = "bench-password-1"


def setup(app: Any) -> tuple[int, int]:
    """Project, a supervisor who may work on every task, the deployed ticket flow."""
    with app.app_context(), acting_as(Actor(None, "bench")), unit_of_work():
        project = projects.create_project("BENCH", "Bench estate")
        building = projects.add_building(project, "1号楼")
        projects.add_unit(building, "101")
        user = accounts.create_user("bench", PASSWORD, "Bench", ["supervisor"], [project.id])
        deploy(read_bundle(BUNDLE))
        return project.id, user.id


def part_a(app: Any, project_id: int, user_id: int, count: int, run: int = 0) -> float:
    """Instances through 3 user tasks per second, each step its own transaction: start, then
    complete the three tasks as requests do (the signed-in user loaded each time; the first
    task read off the instance's open tasks, each completion naming the next, as the API's
    answer does). (d) does the same over HTTP, with an inbox page between start and tasks."""
    with app.app_context(), acting_as(Actor(user_id, "bench")):
        start = time.perf_counter()
        for i in range(count):
            with unit_of_work():
                instance = runtime.start_instance(FLOW, project_id, {}, f"B{run}-{i}")
                instance_id = instance.id
            # (task row id, element) of the next task, read inside the transaction that
            # found it, as the API's answer is (the rows expire when it commits).
            following: list[tuple[int, str]] = []
            for step in range(3):
                with unit_of_work():
                    user = accounts.active_user(user_id)
                    assert user is not None
                    if step == 0:
                        following = [(t.id, t.element_id) for t in open_task_rows(instance_id)]
                    [(task_id, element_id)] = following
                    _done, rows = runtime.complete_task_and_next(
                        task_id, TASK_DATA[element_id], user)
                    following = [(t.id, t.element_id) for t in rows]
            assert not following
        elapsed = time.perf_counter() - start
    return count / elapsed


def _bare_specs() -> tuple[Any, Any]:
    """The ticket flow parsed by the library (the bare loops' specs)."""
    files = read_bundle(BUNDLE)
    parser = create_parser({k: v for k, v in files.items() if k.endswith(".bpmn")})
    return parser.get_spec(FLOW), parser.get_subprocess_specs(FLOW)


def _library_serializer() -> BpmnWorkflowSerializer:
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


def _bare_step(workflow: BpmnWorkflow) -> None:
    """Complete the ready user task with its data and run the engine on, library API only."""
    [task] = workflow.get_tasks(state=TaskState.READY, manual=True)
    task.data.update(TASK_DATA[task.task_spec.bpmn_id])
    task.run()
    workflow.do_engine_steps()


def part_b(count: int, *, persist: bool = False) -> float:
    """The same loop on the bare library, through its own API only (its default script
    engine, ``do_engine_steps``, ``Task.run``): parse once, run and complete in memory.

    ``persist``: as any engine that survives a restart must, the state is serialized after
    every step and deserialized before the next with the library's own serializer (still no
    database)."""
    spec, subprocess_specs = _bare_specs()
    serializer = _library_serializer()
    start = time.perf_counter()
    for _ in range(count):
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow) if persist else ""
        for _ in range(3):
            if persist:
                workflow = serializer.deserialize_json(state)
            _bare_step(workflow)
            if persist:
                state = serializer.serialize_json(workflow)
        assert workflow.is_completed()
    return count / (time.perf_counter() - start)


def part_b_durable(count: int, serialize: Any = None) -> float:
    """The floor of any durable engine around this library on SQLite: the bare loop of
    :func:`part_b` that, after every step, serializes the state and writes it with plain
    ``sqlite3`` (one INSERT at the start, one UPDATE per step, a COMMIT each; WAL,
    synchronous=NORMAL, as EstateFlow's database) and keeps the live workflow in memory (no
    deserializing, as EstateFlow's workflow cache). No task rows, history, locks or
    validation: what is left is the library, its state and the commit that makes a step
    survive a crash. ``serialize``: a workflow → JSON function (default: the library's own
    serializer)."""
    import sqlite3

    spec, subprocess_specs = _bare_specs()
    if serialize is None:
        serialize = _library_serializer().serialize_json
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(f"{tmp}/floor.sqlite3", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE instance (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
        start = time.perf_counter()
        for _ in range(count):
            workflow = BpmnWorkflow(spec, subprocess_specs)
            workflow.do_engine_steps()
            conn.execute("BEGIN IMMEDIATE")
            row_id = conn.execute("INSERT INTO instance (state) VALUES (?)",
                                  (serialize(workflow),)).lastrowid
            conn.execute("COMMIT")
            for _ in range(3):
                _bare_step(workflow)
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE instance SET state = ? WHERE id = ?",
                             (serialize(workflow), row_id))
                conn.execute("COMMIT")
            assert workflow.is_completed()
        elapsed = time.perf_counter() - start
        conn.close()
    return count / elapsed


def part_c(app: Any, project_id: int, user_id: int, completed: int, open_: int,
           samples: int = 200) -> list[float]:
    """Inbox page latency with many finished and open tasks in the table."""
    with app.app_context():
        instance_rows = 10_000
        now = clock.now()
        with unit_of_work():
            db.session.execute(insert(ProcessInstance), [
                {"project_id": project_id, "flow": FLOW, "deployment_id": 1,
                 "business_key": f"I-{i}", "status": "running", "current_steps": "",
                 "state": "{}", "lock_version": 1, "started_by_label": "bench",
                 "started_at": now} for i in range(instance_rows)])
        first = db.session.scalar(select(func.min(ProcessInstance.id))
                                  .where(ProcessInstance.business_key == "I-0"))
        assert first is not None
        roles = ["customer_service", "technician", "supervisor", "finance"]
        batch = 50_000
        for offset in range(0, completed + open_, batch):
            rows = []
            for i in range(offset, min(offset + batch, completed + open_)):
                is_open = i >= completed
                rows.append({
                    "project_id": project_id, "instance_id": first + (i % instance_rows),
                    "task_id": f"{i:036d}", "element_id": "Repair", "title": "Repair",
                    "lane": roles[i % 4], "role": roles[i % 4], "flow": FLOW,
                    "business_key": f"I-{i % instance_rows}", "candidate_user_ids": [],
                    "restricted": False, "status": "open" if is_open else "completed",
                    "due_at": now, "created_at": now,
                })
            with unit_of_work():
                db.session.execute(insert(HumanTask), rows)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        # A technician: the plain "my roles" view (supervisors see every role).
        tech = accounts.create_user("tech-bench", PASSWORD, "Tech", ["technician"],
                                    [project_id])
        db.session.commit()
        user = db.session.get(User, tech.id)
        assert user is not None
        flt = InboxFilter(view="roles")
        timings = []
        for _ in range(samples):
            t0 = time.perf_counter()
            page = paginate_rows(inbox_query(user, flt), 1, 20)
            assert page.items
            timings.append(time.perf_counter() - t0)
            db.session.rollback()
    return timings


# --- HTTP against gunicorn -----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_ms(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except FileNotFoundError:
            continue
    return total * 1000 / ticks


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.timings: list[float] = []

    def call(self, method: str, path: str, body: Any = None) -> Any:
        t0 = time.perf_counter()
        self.conn.request(method, path, body=None if body is None else json.dumps(body),
                          headers=self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        self.timings.append(time.perf_counter() - t0)
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        return json.loads(payload) if payload else None

    def one_instance(self, project_id: int, key: str) -> None:
        """Start → list my tasks → complete the three tasks (each answer names the next)."""
        self.call("POST", "/api/v1/instances",
                  {"flow": FLOW, "project_id": project_id, "business_key": key, "data": {}})
        tasks = self.call("GET", f"/api/v1/tasks?view=roles&q={key}")["items"]
        for _ in range(3):
            task = tasks[0]
            answer = self.call("POST", f"/api/v1/tasks/{task['id']}/complete",
                               {"data": TASK_DATA[task["element_id"]]})
            tasks = answer["next_tasks"]
        assert not tasks


def part_d(url: str, project_id: int, per_client: int, clients: int) -> dict[str, float]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": "false",
           "ESTATEFLOW_INSTANCE": tempfile.mkdtemp(), "REDIS_URL": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level",
         "warning", "wsgi:app"], cwd=ROOT, env=env)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("POST", "/api/v1/auth/token", body=json.dumps(
            {"username": "bench", "password": PASSWORD, "name": "bench"}),
            headers={"Content-Type": "application/json"})
        token = json.loads(conn.getresponse().read())["token"]
        pids = [server.pid, *_children(server.pid)]
        warm = Client(port, token)
        warm.one_instance(project_id, f"W-{clients}")
        cpu_before = _cpu_ms(pids)
        workers = [Client(port, token) for _ in range(clients)]
        errors: list[BaseException] = []

        def run(index: int, client: Client) -> None:
            try:
                for i in range(per_client):
                    client.one_instance(project_id, f"H{clients}-{index}-{i}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(workers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        cpu = _cpu_ms(pids) - cpu_before
        if errors:
            raise errors[0]
        timings = [t for c in workers for t in c.timings]
        instances = per_client * clients
        return {"instances_per_s": instances / elapsed,
                "p50_ms": percentile(timings, 50) * 1000, "p95_ms": percentile(timings, 95) * 1000,
                "cpu_ms_per_instance": cpu / instances}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--parts", default="abcd")
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3, help="runs of (a); the median is shown")
    parser.add_argument("--completed", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=20_000)
    parser.add_argument("--http-instances", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    bare = persisted = None
    if "b" in args.parts:
        bare = part_b(args.instances)
        print(f"(b) bare SpiffWorkflow, no database: {bare:.1f} instances/s")
        results["bare_instances_per_s"] = bare
        persisted = part_b(args.instances, persist=True)
        print(f"(b') bare SpiffWorkflow serializing its state after every step (no database): "
              f"{persisted:.1f} instances/s")
        results["bare_serialized_instances_per_s"] = persisted
        durable = part_b_durable(args.instances)
        ours = part_b_durable(args.instances, spiff.serialize)
        print(f"(b'') the durable floor on SQLite — the bare loop writing its state after "
              f"every step with plain sqlite3, nothing else: {durable:.1f} instances/s with the "
              f"library's serializer ({bare / durable:.2f}x the in-memory loop), "
              f"{ours:.1f}/s with EstateFlow's ({bare / ours:.2f}x)")
        results["durable_floor_instances_per_s"] = durable
        results["durable_floor_estateflow_codec_instances_per_s"] = ours
    for kind in kinds:
        with bench_database(kind) as url:
            app = make_app(url)
            project_id, user_id = setup(app)
            out: dict[str, Any] = {}
            if "a" in args.parts:
                # The median of a few runs: this machine's speed drifts from run to run.
                rates = sorted(part_a(app, project_id, user_id, args.instances, run)
                               for run in range(args.runs))
                rate = rates[len(rates) // 2]
                out["instances_per_s"] = rate
                out["instances_per_s_runs"] = rates
                line = (f"[{kind}] (a) {rate:.1f} instances/s through 3 user tasks (median of "
                        f"{len(rates)} runs, {rates[0]:.1f}-{rates[-1]:.1f})")
                if bare and persisted:
                    out["overhead_ratio"] = bare / rate
                    out["overhead_ratio_serialized"] = persisted / rate
                    line += (f"; (b) ratio bare/ours = {bare / rate:.2f} "
                             f"(against the serializing loop {persisted / rate:.2f})")
                print(line, flush=True)
            if "d" in args.parts:
                for clients in (1, 8):
                    per_client = max(1, args.http_instances // clients)
                    figures = part_d(url, project_id, per_client, clients)
                    out[f"http_{clients}_clients"] = figures
                    print(f"[{kind}] (d) {clients} client(s): "
                          f"{figures['instances_per_s']:.1f} instances/s, per request "
                          f"p50 {figures['p50_ms']:.1f} ms p95 {figures['p95_ms']:.1f} ms, "
                          f"server CPU {figures['cpu_ms_per_instance']:.1f} ms/instance",
                          flush=True)
            if "c" in args.parts:
                timings = part_c(app, project_id, user_id, args.completed, args.open)
                out["inbox_p50_ms"] = percentile(timings, 50) * 1000
                out["inbox_p95_ms"] = percentile(timings, 95) * 1000
                print(f"[{kind}] (c) 'my roles' inbox page with {args.completed:,} completed "
                      f"and {args.open:,} open tasks: {summary(timings)}", flush=True)
            results[kind] = out
            with app.app_context():
                db.engine.dispose()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
