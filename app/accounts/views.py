"""Sign in and out, own password and tokens, and the user administration pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, or_, select

from app.accounts import operations as ops
from app.accounts.forms import ChangePasswordForm, LoginForm, TokenForm, UserForm
from app.accounts.labels import ROLE_LABELS
from app.accounts.models import ApiToken, User
from app.accounts.permissions import require
from app.audit.recorder import record_audit
from app.errors import DomainError
from app.extensions import db
from app.projects.models import Project
from app.uow import keep_changes_on_error

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") and \
            not target.startswith("//"):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if form.validate_on_submit():
        result = ops.authenticate(form.username.data or "", form.password.data or "")
        if result.user is not None:
            login_user(result.user, remember=bool(form.remember.data))
            if session.get("lang") and not result.user.locale:
                result.user.locale = session["lang"]  # remember a choice made before sign-in
            record_audit("login", record_type="user_account", record_id=result.user.id)
            return redirect(_safe_next(request.args.get("next")))
        keep_changes_on_error()  # the failed attempt stays in the audit trail
        if result.locked:
            message = _("Too many failed attempts. This account is locked for a while; try again later or ask an administrator.")  # noqa: E501
        else:
            message = _("Wrong username or password.")
        return render_template("accounts/login.html", form=form, error=message), 401
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    record_audit("logout", record_type="user_account", record_id=current_user.id)
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ops.change_password(current_user, form.current_password.data or "",
                                form.new_password.data or "")
        except DomainError as exc:
            for field, reason in exc.fields.items():
                getattr(form, field).errors.append(reason)
            return render_template("accounts/password.html", form=form), 422
        flash(_("Your password was changed."), "success")
        return redirect(url_for("web.home"))
    status = 422 if form.errors else 200
    return render_template("accounts/password.html", form=form), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@require("tokens.own")
def tokens() -> ResponseReturnValue:
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        _token, new_token = ops.create_api_token(current_user, form.name.data or "")
        form = TokenForm(formdata=None)
    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id.desc())
    ).all()
    return render_template("accounts/tokens.html", form=form, tokens=rows, new_token=new_token)


@bp.post("/account/tokens/<int:token_id>/revoke")
@require("tokens.own")
def revoke_token(token_id: int) -> ResponseReturnValue:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    ops.revoke_api_token(token)
    flash(_("Token revoked."), "success")
    return redirect(url_for("accounts.tokens"))


# --- administration ---------------------------------------------------------------------------

def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user) if user and request.method == "GET" else UserForm()
    form.roles.choices = [(r.value, str(label)) for r, label in ROLE_LABELS.items()]
    form.projects.choices = [
        (p.id, p.name) for p in db.session.scalars(select(Project).order_by(Project.name))
    ]
    if user is not None and request.method == "GET":
        form.roles.data = sorted(r.value for r in user.roles)
        form.projects.data = sorted(user.project_ids)
    return form


@bp.get("/admin/users")
@require("users.manage")
def users() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = select(User).order_by(User.username)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(func.lower(User.username).like(like),
                                func.lower(User.display_name).like(like)))
    pagination = db.paginate(query, page=page, per_page=20, error_out=False)
    return render_template("accounts/users.html", pagination=pagination, q=q,
                           role_labels=ROLE_LABELS)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require("users.manage")
def create_user() -> ResponseReturnValue:
    form = _user_form()
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("An initial password is required."))
        else:
            try:
                user = ops.create_user(form.username.data or "", form.password.data,
                                       form.display_name.data or "", form.roles.data or [],
                                       form.projects.data or [], form.email.data or None)
                ops.set_active(user, bool(form.active.data))
            except DomainError as exc:
                for field, reason in exc.fields.items():
                    getattr(form, field).errors.append(reason)
            else:
                flash(_("User %(name)s created.", name=user.username), "success")
                return redirect(url_for("accounts.users"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/user_form.html", form=form, user=None), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@require("users.manage")
def edit_user(user_id: int) -> ResponseReturnValue:
    user = db.get_or_404(User, user_id)
    form = _user_form(user)
    if form.validate_on_submit():
        user.display_name = form.display_name.data or user.display_name
        user.email = form.email.data or None
        ops.set_roles(user, form.roles.data or [])
        ops.set_grants(user, form.projects.data or [])
        if user.id == current_user.id and not form.active.data:
            form.active.errors.append(_("You cannot disable your own account."))
            return render_template("accounts/user_form.html", form=form, user=user), 422
        ops.set_active(user, bool(form.active.data))
        if form.password.data:
            ops.reset_password(user, form.password.data)
        flash(_("User %(name)s saved.", name=user.username), "success")
        return redirect(url_for("accounts.users"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/user_form.html", form=form, user=user), status
