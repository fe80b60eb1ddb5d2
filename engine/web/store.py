"""What the web application reads and writes: assessments, rounds, invitations, responses, answers.

Every function is one transaction. Secrets handed to people (invitation tokens, respondents' keys,
sign-in tokens) come from `secrets.token_urlsafe`; the respondents' keys and sign-in tokens are
stored only as SHA-256 hashes, so a copy of the database lets no one resume someone's response.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from .throttle import legacy_key
from .db import Database, answers, assessments, invitations, members, responses, rounds, sessions, throttle, users

TOKEN_BYTES = 24          # 192 bits: invitation tokens and respondents' keys
MAX_ID = 2**31 - 1        # the largest id every database's INTEGER holds


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Conflict(Exception):
    """The request cannot be honoured in the current state (closed round, submitted response)."""


# ---- facilitators -------------------------------------------------------------------------------

def find_user(db: Database, name: str) -> dict | None:
    with db.tx() as conn:
        row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
        return dict(row) if row else None


def add_user(db: Database, name: str, password_hash: str, replace: bool = False) -> bool:
    """Create the account, or (replace) set its password. Returns False if it exists and not replace."""
    with db.tx() as conn:
        found = conn.execute(select(users.c.id).where(users.c.name == name)).first()
        if found and not replace:
            return False
        if found:
            conn.execute(update(users).where(users.c.id == found[0]).values(password_hash=password_hash))
            conn.execute(delete(sessions).where(sessions.c.user_id == found[0]))   # sign out everywhere
        else:
            conn.execute(insert(users).values(name=name, password_hash=password_hash))
        conn.execute(delete(throttle).where(throttle.c.name == legacy_key(name)))     # its failures forgotten
        return True


def count_users(db: Database) -> int:
    with db.tx() as conn:
        return conn.execute(select(func.count()).select_from(users)).scalar_one()


def set_password_hash(db: Database, user_id: int, password_hash: str) -> None:
    with db.tx() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def new_session(db: Database, user_id: int, kind: str, expires: float, now: float) -> str:
    token = secrets.token_urlsafe(32)
    with db.tx() as conn:
        conn.execute(delete(sessions).where(sessions.c.expires < now))
        conn.execute(insert(sessions).values(id_hash=digest(token), user_id=user_id, kind=kind, expires=expires))
    return token


def session_user(db: Database, token: str, kind: str, now: float) -> dict | None:
    with db.tx() as conn:
        row = conn.execute(select(users.c.id, users.c.name).join(sessions, sessions.c.user_id == users.c.id)
                           .where(sessions.c.id_hash == digest(token), sessions.c.kind == kind,
                                  sessions.c.expires > now)).mappings().first()
        return dict(row) if row else None


def end_session(db: Database, token: str) -> None:
    with db.tx() as conn:
        conn.execute(delete(sessions).where(sessions.c.id_hash == digest(token)))


# ---- assessments --------------------------------------------------------------------------------

@dataclass
class Link:
    organisation: str
    token: str
    started: int = 0
    submitted: int = 0


@dataclass
class Round:
    id: int
    number: int
    closed: bool
    links: list[Link] = field(default_factory=list)

    @property
    def submitted(self) -> int:
        return sum(x.submitted for x in self.links)

    @property
    def started(self) -> int:
        return sum(x.started for x in self.links)


@dataclass
class Assessment:
    id: int
    partnership: str
    scope: str
    min_group: int
    gap: float
    show_individual: bool
    created: float
    rounds: list[Round] = field(default_factory=list)

    @property
    def current(self) -> Round:
        return self.rounds[-1]

    @property
    def organisations(self) -> list[str]:
        return [x.organisation for x in self.current.links]


def _insert_round(conn: Connection, assessment_id: int, number: int, organisations: list[str]) -> None:
    round_id = conn.execute(insert(rounds).values(assessment_id=assessment_id, number=number, closed=False)
                            .returning(rounds.c.id)).scalar_one()
    conn.execute(insert(invitations), [
        {"round_id": round_id, "organisation": org, "position": n, "token": secrets.token_urlsafe(TOKEN_BYTES)}
        for n, org in enumerate(organisations)])


def create_assessment(db: Database, owner_id: int, partnership: str, scope: str, organisations: list[str],
                      min_group: int, gap: float, show_individual: bool, now: float) -> int:
    """The assessment, its first round, and one invitation link per organisation."""
    with db.tx() as conn:
        aid = conn.execute(insert(assessments).values(
            owner_id=owner_id, partnership=partnership, scope=scope, min_group=min_group, gap=gap,
            show_individual=show_individual, created=now).returning(assessments.c.id)).scalar_one()
        _insert_round(conn, aid, 1, organisations)
        return aid


def _counts(conn: Connection, round_ids: list[int]) -> dict[int, tuple[int, int]]:
    """invitation id -> (responses started, responses submitted)."""
    if not round_ids:
        return {}
    q = (select(invitations.c.id, func.count(responses.c.id),
                func.coalesce(func.sum(case((responses.c.submitted, 1), else_=0)), 0))
         .select_from(invitations.outerjoin(responses, responses.c.invitation_id == invitations.c.id))
         .where(invitations.c.round_id.in_(round_ids)).group_by(invitations.c.id))
    return {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(q)}


def list_assessments(db: Database, owner_id: int) -> list[Assessment]:
    with db.tx() as conn:
        shared = select(members.c.assessment_id).where(members.c.user_id == owner_id)
        ids = conn.execute(select(assessments.c.id).where((assessments.c.owner_id == owner_id) | assessments.c.id.in_(shared))
                           .order_by(assessments.c.created.desc(), assessments.c.id.desc())).scalars().all()
        return [_load(conn, aid) for aid in ids]


def get_assessment(db: Database, owner_id: int, aid: int) -> Assessment | None:
    """The assessment if it exists and belongs to this facilitator or is shared with them as a
    co-facilitator (others' are invisible)."""
    if not 1 <= aid <= MAX_ID:          # beyond every column's range (PostgreSQL's is 2**31 - 1): none
        return None
    with db.tx() as conn:
        owner = conn.execute(select(assessments.c.owner_id).where(assessments.c.id == aid)).scalar()
        member = conn.execute(select(members.c.user_id).where(members.c.assessment_id == aid,
                                                               members.c.user_id == owner_id)).first()
        return _load(conn, aid) if owner is not None and (owner == owner_id or member) else None


def _load(conn: Connection, aid: int) -> Assessment:
    row = conn.execute(select(assessments).where(assessments.c.id == aid)).mappings().one()
    a = Assessment(row["id"], row["partnership"], row["scope"], row["min_group"], row["gap"],
                   bool(row["show_individual"]), row["created"])
    round_rows = conn.execute(select(rounds).where(rounds.c.assessment_id == aid).order_by(rounds.c.number)).mappings().all()
    counts = _counts(conn, [r["id"] for r in round_rows])
    for r in round_rows:
        rnd = Round(r["id"], r["number"], bool(r["closed"]))
        for inv in conn.execute(select(invitations).where(invitations.c.round_id == r["id"])
                                .order_by(invitations.c.position)).mappings():
            started, submitted = counts.get(inv["id"], (0, 0))
            rnd.links.append(Link(inv["organisation"], inv["token"], started, submitted))
        a.rounds.append(rnd)
    return a


def _keep_part_way(conn: Connection, aid: int) -> None:
    """Closing keeps the answers of people part-way through: every open response of the assessment
    with at least one answer is submitted as it stands (docs/web.md)."""
    open_rounds = select(rounds.c.id).where(rounds.c.assessment_id == aid, rounds.c.closed.is_(False))
    started = (select(responses.c.id).join(invitations, invitations.c.id == responses.c.invitation_id)
               .where(invitations.c.round_id.in_(open_rounds), responses.c.submitted.is_(False)))
    answered = select(answers.c.response_id).where(answers.c.response_id.in_(started), answers.c.value.is_not(None))
    conn.execute(update(responses).where(responses.c.id.in_(answered)).values(submitted=True))


def close_round(db: Database, aid: int) -> None:
    with db.tx() as conn:
        _keep_part_way(conn, aid)
        conn.execute(update(rounds).where(rounds.c.assessment_id == aid).values(closed=True))


def new_round(db: Database, aid: int) -> int:
    """Close the current round and open the next, with new links for the same organisations (a link
    belongs to one round, so last round's respondents cannot add to this one by mistake)."""
    with db.tx() as conn:
        current = conn.execute(select(rounds).where(rounds.c.assessment_id == aid)
                               .order_by(rounds.c.number.desc()).limit(1).with_for_update()).mappings().one()
        orgs = conn.execute(select(invitations.c.organisation).where(invitations.c.round_id == current["id"])
                            .order_by(invitations.c.position)).scalars().all()
        _keep_part_way(conn, aid)
        conn.execute(update(rounds).where(rounds.c.assessment_id == aid).values(closed=True))
        number = current["number"] + 1
        _insert_round(conn, aid, number, list(orgs))
        return number


def submitted_rows(db: Database, aid: int, up_to: int | None = None) -> list[tuple[int, str, dict]]:
    """(round number, organisation, answers) of every submitted response; in an order that says
    nothing about when or by whom (by the hash of the respondent's random key)."""
    with db.tx() as conn:
        q = (select(rounds.c.number, invitations.c.organisation, responses.c.id)
             .select_from(rounds.join(invitations, invitations.c.round_id == rounds.c.id)
                          .join(responses, responses.c.invitation_id == invitations.c.id))
             .where(rounds.c.assessment_id == aid, responses.c.submitted.is_(True))
             .order_by(rounds.c.number, invitations.c.position, responses.c.key_hash))
        if up_to is not None:
            q = q.where(rounds.c.number <= up_to)
        found = conn.execute(q).all()
        values = _answers_of(conn, [r[2] for r in found])
        return [(number, org, values.get(rid, {})) for number, org, rid in found]


def _answers_of(conn: Connection, response_ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for start in range(0, len(response_ids), 500):
        chunk = response_ids[start:start + 500]
        for rid, item, value in conn.execute(select(answers.c.response_id, answers.c.item, answers.c.value)
                                             .where(answers.c.response_id.in_(chunk), answers.c.value.is_not(None))):
            out.setdefault(rid, {})[item] = json.loads(value)
    return out


# ---- respondents --------------------------------------------------------------------------------

@dataclass
class Invitation:
    id: int
    token: str
    organisation: str
    round_number: int
    closed: bool
    assessment_id: int
    partnership: str
    scope: str
    show_individual: bool


def invitation(db: Database, token: str) -> Invitation | None:
    with db.tx() as conn:
        row = conn.execute(
            select(invitations.c.id, invitations.c.token, invitations.c.organisation, rounds.c.number,
                   rounds.c.closed, assessments.c.id.label("aid"), assessments.c.partnership, assessments.c.scope,
                   assessments.c.show_individual)
            .select_from(invitations.join(rounds, rounds.c.id == invitations.c.round_id)
                         .join(assessments, assessments.c.id == rounds.c.assessment_id))
            .where(invitations.c.token == token)).first()
        if row is None:
            return None
        return Invitation(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], bool(row[8]))


def start_response(db: Database, inv: Invitation) -> str:
    """A new response for this invitation; returns the respondent's key (kept only in their cookie)."""
    key = secrets.token_urlsafe(TOKEN_BYTES)
    with db.tx() as conn:
        _require_open(conn, inv.id)
        conn.execute(insert(responses).values(invitation_id=inv.id, key_hash=digest(key), submitted=False))
    return key


@dataclass
class Response:
    id: int
    submitted: bool
    answers: dict
    skipped: list
    history: list


def find_response(db: Database, inv: Invitation, key: str | None) -> Response | None:
    """The response for this key *on this invitation*; a key from another link finds nothing."""
    if not key or len(key) > 200:
        return None
    with db.tx() as conn:
        row = conn.execute(select(responses.c.id, responses.c.submitted)
                           .where(responses.c.key_hash == digest(key), responses.c.invitation_id == inv.id)).first()
        if row is None:
            return None
        got, skipped, history = {}, [], []
        for item, value in conn.execute(select(answers.c.item, answers.c.value)
                                        .where(answers.c.response_id == row[0]).order_by(answers.c.seq)):
            history.append(item)
            if value is None:
                skipped.append(item)
            else:
                got[item] = json.loads(value)
        return Response(row[0], bool(row[1]), got, skipped, history)


def _require_open(conn: Connection, invitation_id: int) -> None:
    closed = conn.execute(select(rounds.c.closed).join(invitations, invitations.c.round_id == rounds.c.id)
                          .where(invitations.c.id == invitation_id)).scalar_one()
    if closed:
        raise Conflict("this questionnaire is closed: the facilitator has closed the round")


def _lock_response(conn: Connection, response_id: int) -> tuple[int, bool]:
    """Lock the response row (PostgreSQL; SQLite holds the database write lock already)."""
    row = conn.execute(select(responses.c.invitation_id, responses.c.submitted)
                       .where(responses.c.id == response_id).with_for_update()).one()
    _require_open(conn, row[0])
    if row[1]:
        raise Conflict("these answers have been submitted and can no longer be changed")
    return row[0], bool(row[1])


def save_answer(db: Database, response_id: int, item: str, value: Any) -> None:
    """Store one answer (None: skipped) at once: the unit of 'progress saved on every answer'."""
    stored = None if value is None else json.dumps(value)
    where = and_(answers.c.response_id == response_id, answers.c.item == item)
    with db.tx() as conn:
        _lock_response(conn, response_id)
        if conn.execute(select(answers.c.seq).where(where)).first() is not None:
            conn.execute(update(answers).where(where).values(value=stored))   # keeps its place for "Back"
            return
        seq = conn.execute(select(func.coalesce(func.max(answers.c.seq), 0))
                           .where(answers.c.response_id == response_id)).scalar_one() + 1
        conn.execute(insert(answers).values(response_id=response_id, item=item, value=stored, seq=seq))


def undo_answer(db: Database, response_id: int, item: str | None = None) -> str | None:
    """Remove an answer (the latest when item is None), so it is asked again; returns its item."""
    with db.tx() as conn:
        _lock_response(conn, response_id)
        if item is None:
            item = conn.execute(select(answers.c.item).where(answers.c.response_id == response_id)
                                .order_by(answers.c.seq.desc()).limit(1)).scalar()
            if item is None:
                return None
        conn.execute(delete(answers).where(and_(answers.c.response_id == response_id, answers.c.item == item)))
        return item


def submit(db: Database, response_id: int) -> None:
    with db.tx() as conn:
        _lock_response(conn, response_id)
        conn.execute(update(responses).where(responses.c.id == response_id).values(submitted=True))


def count_answers(db: Database, aid: int | None = None) -> dict[str, int]:
    """Totals for tests and the operator: responses, submitted, answers stored."""
    with db.tx() as conn:
        q_resp = select(func.count(responses.c.id), func.coalesce(func.sum(case((responses.c.submitted, 1), else_=0)), 0))
        q_ans = select(func.count()).select_from(answers)
        if aid is not None:
            scope = (select(responses.c.id).join(invitations, invitations.c.id == responses.c.invitation_id)
                     .join(rounds, rounds.c.id == invitations.c.round_id).where(rounds.c.assessment_id == aid))
            q_resp = q_resp.where(responses.c.id.in_(scope))
            q_ans = q_ans.where(answers.c.response_id.in_(scope))
        started, submitted = conn.execute(q_resp).one()
        return {"responses": int(started), "submitted": int(submitted), "answers": int(conn.execute(q_ans).scalar_one())}



def save_answers(db: Database, response_id: int, values: dict[str, Any], remove: list[str]) -> None:
    """Several answer rows at once, in one transaction (a checklist sets many): each value as in
    `save_answer` (None: skipped; a row keeps its place for "Back"), and the `remove` rows deleted."""
    with db.tx() as conn:
        _lock_response(conn, response_id)
        if remove:
            conn.execute(delete(answers).where(and_(answers.c.response_id == response_id, answers.c.item.in_(remove))))
        seq = conn.execute(select(func.coalesce(func.max(answers.c.seq), 0))
                           .where(answers.c.response_id == response_id)).scalar_one()
        for item, value in values.items():
            stored = None if value is None else json.dumps(value)
            where = and_(answers.c.response_id == response_id, answers.c.item == item)
            if conn.execute(select(answers.c.seq).where(where)).first() is not None:
                conn.execute(update(answers).where(where).values(value=stored))
            else:
                seq += 1
                conn.execute(insert(answers).values(response_id=response_id, item=item, value=stored, seq=seq))
