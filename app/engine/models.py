"""Persistence of the runtime: deployments, process instances, human tasks and their history.

Instances hold the serialized workflow plus the indexed columns list pages and sweeps need, so
nothing outside :mod:`app.engine.locking` ever deserializes a workflow.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db
from app.scoping import ProjectScoped
from app.sqltypes import UTCDateTime


class InstanceStatus(StrEnum):
    RUNNING = "running"  # people or service handlers have work to do
    WAITING = "waiting"  # only timers, messages or signals can move it on
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"
    SUSPENDED = "suspended"


#: Instances in these states never change again.
FINISHED = frozenset({InstanceStatus.COMPLETED, InstanceStatus.CANCELLED})


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EventKind(StrEnum):
    STARTED = "started"
    TASK_CREATED = "task_created"
    CLAIMED = "claimed"
    RELEASED = "released"
    REASSIGNED = "reassigned"
    DELEGATED = "delegated"
    COMPLETED = "completed"  # a task was completed
    TASK_CANCELLED = "task_cancelled"  # a task vanished (boundary timer, cancel)
    FINISHED = "finished"  # the instance reached its end
    CANCELLED = "cancelled"  # the instance was cancelled
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    SERVICE_RUN = "service_run"  # a service task's handler ran
    MESSAGE = "message"  # a message or signal was delivered
    INCIDENT = "incident"  # an automatic step failed
    INCIDENT_RETRIED = "incident_retried"
    INCIDENT_SKIPPED = "incident_skipped"


class Deployment(db.Model):  # type: ignore[name-defined]
    """An immutable, versioned bundle of processes/ and forms/."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    # Not unique: deploying an older bundle again (a rollback) makes a new, current version.
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_label: Mapped[str] = mapped_column(String(100), default="system")
    #: {process id: {"spec": ..., "subprocess_specs": {...}}} as SpiffWorkflow serializes them,
    #: so starting an instance never parses XML.
    specs: Mapped[str] = mapped_column(Text, deferred=True)

    files: Mapped[list[DeploymentFile]] = relationship(
        back_populates="deployment", order_by="DeploymentFile.path"
    )
    processes: Mapped[list[DeployedProcess]] = relationship(
        back_populates="deployment", order_by="DeployedProcess.process_id", lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<Deployment v{self.version}>"


class DeploymentFile(db.Model):  # type: ignore[name-defined]
    __tablename__ = "deployment_file"
    __table_args__ = (Index("ix_deployment_file_path", "deployment_id", "path", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    path: Mapped[str] = mapped_column(String(300))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    deployment: Mapped[Deployment] = relationship(back_populates="files")


class DeployedProcess(db.Model):  # type: ignore[name-defined]
    __tablename__ = "deployed_process"
    __table_args__ = (
        Index("ix_deployed_process_flow", "process_id", "deployment_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    file: Mapped[str] = mapped_column(String(300))
    has_timer_start: Mapped[bool] = mapped_column(default=False)

    deployment: Mapped[Deployment] = relationship(back_populates="processes")


class ProcessInstance(ProjectScoped, db.Model):  # type: ignore[name-defined]
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_list", "status", "flow", "started_at"),
        Index("ix_process_instance_business_key", "business_key"),
        Index("ix_process_instance_next_timer_due", "next_timer_due", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flow: Mapped[str] = mapped_column(String(100))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), index=True)
    business_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING.value)
    current_steps: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(Text, deferred=True)
    #: Random name of the saved state, new with every save (see app.engine.workflow_cache).
    state_token: Mapped[str | None] = mapped_column(String(32))
    #: Has MessageSubscription rows (saves of instances waiting on none skip that query).
    subscribed: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    next_timer_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_by_label: Mapped[str] = mapped_column(String(100), default="system")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    deployment: Mapped[Deployment] = relationship(lazy="joined", innerjoin=True)

    # A writer that did not hold the lock (or lost a race) fails at flush instead of
    # overwriting a newer state: StaleDataError, answered as 409 by app.engine.locking.
    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def __repr__(self) -> str:
        return f"<ProcessInstance {self.id} {self.flow} {self.status}>"


class HumanTask(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """A READY user task of an instance, projected for inbox queries (or a finished one)."""

    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_inbox_role", "status", "role", "project_id", "due_at"),
        Index("ix_human_task_inbox_assignee", "status", "assignee_id", "due_at"),
        Index("ix_human_task_due_at", "due_at"),
        Index("ix_human_task_flow", "status", "flow"),
        Index("ix_human_task_business_key", "business_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))  # SpiffWorkflow's task uuid
    element_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(32))  # the lane names a role code
    # Copied from the instance so inbox filters need no join.
    flow: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str | None] = mapped_column(String(64))
    candidate_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: True when only the candidates (and reassigners) may work on it: not in role inboxes.
    restricted: Mapped[bool] = mapped_column(default=False)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN.value)
    form: Mapped[str | None] = mapped_column(String(300))
    ui_form: Mapped[str | None] = mapped_column(String(300))
    documentation: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    instance: Mapped[ProcessInstance] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN

    def overdue(self, now: datetime) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < now

    def __repr__(self) -> str:
        return f"<HumanTask {self.id} {self.element_id} {self.status}>"


class TaskCandidate(db.Model):  # type: ignore[name-defined]
    """A user who may work on a restricted task (indexed for the "mine" inbox)."""

    __tablename__ = "task_candidate"
    __table_args__ = (UniqueConstraint("task_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)

    #: Set instead of task_id for a task row created in the same flush.
    task: Mapped[HumanTask] = relationship()


class InstanceEvent(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """One transition of an instance or one of its tasks: who, when, what (append-only)."""

    __tablename__ = "instance_event"
    __table_args__ = (
        Index("ix_instance_event_instance", "instance_id", "at"),
        Index("ix_instance_event_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_row_id: Mapped[int | None] = mapped_column(ForeignKey("human_task.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    element_id: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    #: Set instead of task_row_id for a task row created in the same flush.
    task_row: Mapped[HumanTask | None] = relationship()


class HistoryIsAppendOnly(Exception):
    pass


@event.listens_for(InstanceEvent, "before_update")
@event.listens_for(InstanceEvent, "before_delete")
def _refuse_changes(*_: Any) -> None:
    raise HistoryIsAppendOnly("instance events are never changed or deleted")


class TimerStartSchedule(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """When the scheduler next starts a process with a timer start event, in one project.

    One row per (process, active project): a timer-start flow (a monthly billing run, a
    quarterly inspection) runs once per estate. Kept in step with the latest deployment by
    :mod:`app.engine.timer_starts`.
    """

    __tablename__ = "timer_start_schedule"
    __table_args__ = (
        Index("ix_timer_start_schedule_process", "process_id", "project_id", unique=True),
        Index("ix_timer_start_schedule_next_due", "next_due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"), index=True)
    #: None: nothing left to start (a past timeDate, an exhausted cycle).
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The occurrence last started; the next one is computed strictly after it.
    last_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageSubscription(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """A message or signal catch an instance waits on, indexed for delivery without a scan.

    Rewritten with the workflow by :func:`app.engine.projections.save_workflow`.
    ``correlation_key`` is the sha256 of the canonical JSON of the expected correlation values
    (``{}`` for signals and uncorrelated messages); ``correlation`` keeps them readable.
    """

    __tablename__ = "message_subscription"
    __table_args__ = (
        Index("ix_message_subscription_lookup", "kind", "name", "correlation_key"),
        Index("ix_message_subscription_signal", "kind", "name", "project_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # message | signal
    name: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str] = mapped_column(String(64))
    correlation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The waiting engine task when the row was written (a catch that waits again after a
    #: loop keeps its row; deliveries look the waiting task up in the workflow).
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Incident(ProjectScoped, db.Model):  # type: ignore[name-defined]
    """An automatic step that failed (script, gateway, DMN, service handler) on an instance.

    The instance is in status ``error`` with its state as before the failing step while an
    incident is open; an admin retries (optionally with edited data) or skips the task.
    """

    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_status_created", "status", "created_at"),
        Index("ix_incident_instance", "instance_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.OPEN.value)
    task_id: Mapped[str | None] = mapped_column(String(36))  # SpiffWorkflow's task uuid
    element_id: Mapped[str | None] = mapped_column(String(100))
    element_name: Mapped[str | None] = mapped_column(String(200))
    error_type: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text)
    #: The failing task's data when it failed (JSON-safe copy).
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolution: Mapped[str | None] = mapped_column(String(16))  # retried | skipped

    instance: Mapped[ProcessInstance] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status == IncidentStatus.OPEN

    def __repr__(self) -> str:
        return f"<Incident {self.id} {self.element_id} {self.status}>"
