"""Home page per role, language switch, health check."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select, text

from app.extensions import db
from app.projects.models import Project
from app.web.navigation import home_cards

bp = Blueprint("web", __name__)


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    projects = db.session.scalars(select(Project).order_by(Project.name)).all()
    return render_template("home.html", cards=home_cards(current_user), projects=projects)


@bp.route("/lang/<code>", methods=["GET", "POST"])
def set_language(code: str) -> ResponseReturnValue:
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    if current_user.is_authenticated:
        current_user.locale = code
    referrer = urlsplit(request.referrer or "")
    same_site = not referrer.netloc or referrer.netloc == request.host
    target = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return redirect(target if same_site and target.startswith("/") else url_for("web.home"))


@bp.get("/healthz")
def health() -> ResponseReturnValue:
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
