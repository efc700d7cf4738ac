"""Mutation testing of the modules that enforce DESIGN.md §2's invariants (`make mutate`).

Each module is mutated by cosmic-ray, one small change at a time, in a scratch copy
of the project under var/mutate/<module>/, and its own tests run against each change
(`pytest -x`, one mutant at a time: the machine is shared), on SQLite, or on
PostgreSQL when LIANGPIAO_TEST_DATABASE_URL names a server, as for the tests. A
mutant the tests do not notice survives. Survivors that are equivalent mutants (no
behaviour can tell them from the original) are listed with the reason in
tools/mutate_equivalents.toml; the report prints the kill rate and every survivor
that file does not explain, and exits non-zero when there is one.

    python tools/mutate.py                      # every module (hours on 2 cores)
    python tools/mutate.py ledger-repository-lots  # one or more modules by name
    python tools/mutate.py --list               # the modules, files and tests
    python tools/mutate.py --report ledger-repository-lots   # the last run's report again
    python tools/mutate.py --resume ledger-repository-lots     # go on where a run was stopped
    python tools/mutate.py --survivors ledger-repository-lots  # its survivors, against new tests

cosmic-ray rather than mutmut: mutmut mutates only inside functions, and the ledger's
balance conditions are statements built once at module level.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "mutate"
EQUIVALENTS = ROOT / "tools" / "mutate_equivalents.toml"
COPIED = ("app", "tests", "migrations", "openapi", "bench", "alembic.ini", "pyproject.toml")


@dataclass(frozen=True)
class Target:
    path: str
    # Run first, so that a killed mutant usually costs seconds; then the whole directory.
    tests: tuple[str, ...]
    # Only these definitions of the module (None: all of it).
    functions: frozenset[str] | None = None
    timeout: float = 300.0


TARGETS: dict[str, Target] = {
    # The ledger's repository and service packages, module by module (their
    # __init__ only re-export).
    **{
        f"ledger-{package}-{part}": Target(
            f"app/ledger/{package}/{part}.py",
            ("tests/ledger/test_guards.py", "tests/ledger/test_issue_and_spend.py", "tests/ledger"),
        )
        for package, parts in (
            ("repository", ("accounts", "lots", "transactions", "holds", "reads")),
            (
                "service",
                (
                    "transactions",
                    "accounts",
                    "postings",
                    "reversals",
                    "holds",
                    "expiry",
                    "wallet",
                    "staff",
                ),
            ),
        )
        for part in parts
    },
    "ledger-verify": Target(
        "app/ledger/verify.py", ("tests/ledger/test_verify.py", "tests/ledger")
    ),
    "idempotency": Target(
        "app/core/idempotency.py",
        ("tests/core/test_idempotency.py", "tests/core"),
    ),
    "redemption-codes": Target(
        "app/merchants/codes.py",
        ("tests/merchants/test_codes.py", "tests/merchants"),
    ),
    # The statements that consume a code, once.
    "redemption-codes-repository": Target(
        "app/merchants/repository/codes.py",
        ("tests/merchants/test_codes.py", "tests/merchants"),
    ),
    "terminal-auth": Target(
        "app/merchants/terminal_auth.py",
        ("tests/merchants/test_terminals.py", "tests/merchants"),
    ),
    # The terminal's row and its nonce, spent once.
    "terminal-auth-repository": Target(
        "app/merchants/repository/terminals.py",
        ("tests/merchants/test_terminals.py", "tests/merchants"),
    ),
    "checkin-codes": Target(
        "app/activities/codes.py",
        ("tests/activities/test_codes.py", "tests/activities/test_checkin.py"),
    ),
    "rewards-issuance": Target(
        "app/rewards/service.py",
        ("tests/rewards/test_issuance_guards.py", "tests/rewards"),
        functions=frozenset(
            {
                "entitlement",
                "net_issued",
                "_apply_caps",
                "issue_for_hours",
                "_ledger_metadata",
                "_issue",
                "_claw_back",
            }
        ),
    ),
    # The issuance's statements: the policy lock, the record's issuance looked up once,
    # the caps' sums and the budget's.
    "rewards-issuance-repository": Target(
        "app/rewards/repository.py",
        ("tests/rewards/test_issuance_guards.py", "tests/rewards"),
    ),
    # Capacity under concurrency: the sign-up's rules, the capacity change, and the
    # statement that compares in the database.
    "signup-capacity": Target(
        "app/activities/service/signups.py",
        ("tests/activities/test_signups.py",),
        functions=frozenset({"take_signup", "sign_up", "cancel_signup"}),
    ),
    "signup-capacity-update": Target(
        "app/activities/service/lifecycle.py",
        ("tests/activities/test_signups.py",),
        functions=frozenset({"update_activity"}),
    ),
    "signup-capacity-sql": Target(
        "app/activities/repository/activities.py",
        ("tests/activities/test_signups.py",),
        functions=frozenset({"set_capacity"}),
    ),
}

# One replacement per operator that a test could tell apart: the boundary shift and
# the negation of each comparison, the opposite of each arithmetic and logical
# operator, each constant changed. cosmic-ray's other replacements (`+` into `**`,
# `<<`, `%`…) are killed by whatever kills these, and would triple the run.
OPERATORS = re.compile(
    r"core/("
    r"ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Mul|Mod_FloorDiv"
    r"|Pow_Mul|BitAnd_BitOr|BitOr_BitAnd)"
    r"|ReplaceComparisonOperator_(Eq_NotEq|NotEq_Eq|Lt_LtE|Lt_GtE|LtE_Lt|LtE_Gt|Gt_GtE"
    r"|Gt_LtE|GtE_Gt|GtE_Lt|Is_IsNot|IsNot_Is)"
    r"|ReplaceUnaryOperator_(Delete_USub|Delete_Not)"
    r"|AddNot|ReplaceTrueWithFalse|ReplaceFalseWithTrue|ReplaceAndWithOr|ReplaceOrWithAnd"
    r"|ReplaceBreakWithContinue|ReplaceContinueWithBreak|NumberReplacer"
    r"|ZeroIterationForLoop|ExceptionReplacer"
    r")$"
)


@dataclass
class Survivor:
    operator: str
    line_no: int
    line: str
    mutated: str
    diff: str
    reason: str | None = None


@dataclass
class Report:
    module: str
    killed: int = 0
    survived: list[Survivor] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0

    @property
    def unexplained(self) -> list[Survivor]:
        return [s for s in self.survived if s.reason is None]


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the module's annotations are: `from __future__ import annotations` keeps
    them unevaluated, so a mutant there (`X | None` → `X & None`) is equivalent."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for a in annotations:
            if a is not None and a.end_lineno is not None and a.end_col_offset is not None:
                spans.append(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)))
    return spans


def _definition_spans(source: str, names: frozenset[str]) -> list[tuple[int, int]]:
    return [
        (node.lineno, node.end_lineno or node.lineno)
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names
    ]


def _prepare(name: str, target: Target) -> Path:
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for item in COPIED:
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, work / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, work / item)
    tests = " ".join(target.tests)
    command = f"{sys.executable} -m pytest -x -q -p no:cacheprovider --no-header {tests}"
    (work / "cosmic-ray.toml").write_text(
        "[cosmic-ray]\n"
        f'module-path = "{target.path}"\n'
        f"timeout = {target.timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {command!r}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    return work


def _filter(work: Path, target: Target) -> int:
    """Skip the mutants outside the chosen operators, definitions and code."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    source = (work / target.path).read_text()
    lines = source.splitlines()
    annotations = _annotation_spans(source)
    definitions = _definition_spans(source, target.functions) if target.functions else None
    skipped = 0
    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            (mutation,) = item.mutations
            start = tuple(mutation.start_pos)
            reason = None
            if not OPERATORS.match(mutation.operator_name):
                reason = "operator not chosen"
            elif any(a <= start < b for a, b in annotations):
                reason = "in an annotation"
            elif lines[start[0] - 1][start[1] :].startswith(("*,", "*)")):
                # A signature's bare `*` (keyword-only arguments) turned into `/`.
                reason = "a signature's keyword-only marker"
            elif definitions is not None and not any(a <= start[0] <= b for a, b in definitions):
                reason = "outside the chosen definitions"
            if reason:
                db.set_result(
                    item.job_id, WorkResult(output=reason, worker_outcome=WorkerOutcome.SKIPPED)
                )
                skipped += 1
    return skipped


def _forget_survivors(work: Path) -> int:
    """Drop the last run's survivors' results, so that `exec` tries them again."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        survivors = [
            item.job_id
            for item, result in db.completed_work_items
            if result.test_outcome == TestOutcome.SURVIVED
        ]
    with sqlite3.connect(work / "session.sqlite") as db:
        db.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in survivors])
    return len(survivors)


def _run(name: str, target: Target, *, survivors_only: bool, resume: bool) -> None:
    cosmic = [sys.executable, "-m", "cosmic_ray.cli"]
    work = WORK / name
    if (survivors_only or resume) and (work / "session.sqlite").exists():
        # The same mutants of the same module, against the tests as they are now.
        shutil.rmtree(work / "tests")
        shutil.copytree(
            ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__")
        )
        if survivors_only:
            print(f"{name}: trying the last run's {_forget_survivors(work)} survivors again")
    else:
        work = _prepare(name, target)
        subprocess.run([*cosmic, "init", "cosmic-ray.toml", "session.sqlite"], cwd=work, check=True)
        skipped = _filter(work, target)
        print(f"{name}: {skipped} mutants skipped by tools/mutate.py's filters", flush=True)
    baseline = subprocess.run([*cosmic, "baseline", "cosmic-ray.toml"], cwd=work, check=False)
    if baseline.returncode != 0:
        sys.exit(f"{name}: the tests fail without any mutant; fix them first")
    started = time.monotonic()
    subprocess.run([*cosmic, "exec", "cosmic-ray.toml", "session.sqlite"], cwd=work, check=True)
    seconds = work / "seconds"
    before = float(seconds.read_text()) if (survivors_only or resume) and seconds.exists() else 0.0
    seconds.write_text(f"{before + time.monotonic() - started:.0f}\n")


def _changed_line(diff: str) -> tuple[str, str]:
    lines = [ln for ln in diff.splitlines() if not ln.startswith(("---", "+++"))]
    removed = [ln[1:].strip() for ln in lines if ln.startswith("-")]
    added = [ln[1:].strip() for ln in lines if ln.startswith("+")]
    return " ".join(removed), " ".join(added)


def _equivalents() -> list[dict[str, str]]:
    with EQUIVALENTS.open("rb") as f:
        return list(tomllib.load(f).get("equivalent", []))


def _report(name: str, target: Target) -> Report:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    work = WORK / name
    report = Report(name)
    seconds = work / "seconds"
    report.seconds = float(seconds.read_text()) if seconds.exists() else 0.0
    known = [e for e in _equivalents() if e["module"] == target.path]
    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                report.skipped += 1
                continue
            if result.test_outcome != TestOutcome.SURVIVED:
                report.killed += 1
                continue
            (mutation,) = item.mutations
            line, mutated = _changed_line(result.diff or "")
            survivor = Survivor(
                mutation.operator_name, mutation.start_pos[0], line, mutated, result.diff or ""
            )
            for entry in known:
                if entry["line"] == line and entry["mutated"] == mutated:
                    survivor.reason = entry["reason"]
            report.survived.append(survivor)
    return report


def _print(report: Report) -> None:
    tried = report.killed + len(report.survived)
    rate = 100.0 * report.killed / tried if tried else 100.0
    explained = len(report.survived) - len(report.unexplained)
    print(
        f"\n== {report.module}: {report.killed}/{tried} killed ({rate:.1f}%), "
        f"{explained} equivalent, {len(report.unexplained)} unexplained survivors; "
        f"{report.skipped} skipped; {report.seconds / 60:.0f} min"
    )
    for s in report.unexplained:
        print(f"-- survived: line {s.line_no}, {s.operator}")
        print(f"   - {s.line}\n   + {s.mutated}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"of: {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--report", action="store_true", help="report the last run, run none")
    parser.add_argument(
        "--resume", action="store_true", help="go on with the last run's untried mutants"
    )
    parser.add_argument(
        "--survivors", action="store_true", help="run the last run's survivors again (new tests)"
    )
    args = parser.parse_args()
    if args.list:
        for name, target in TARGETS.items():
            print(f"{name}: {target.path} against {' '.join(target.tests)}")
        return 0
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {', '.join(TARGETS)}")
    reports = []
    for name in args.modules or list(TARGETS):
        if not args.report:
            _run(name, TARGETS[name], survivors_only=args.survivors, resume=args.resume)
        reports.append(_report(name, TARGETS[name]))
    for report in reports:
        _print(report)
    killed = sum(r.killed for r in reports)
    tried = killed + sum(len(r.survived) for r in reports)
    unexplained = sum(len(r.unexplained) for r in reports)
    if len(reports) > 1:
        rate = 100.0 * killed / tried if tried else 100.0
        print(f"\n== all: {killed}/{tried} killed ({rate:.1f}%), {unexplained} unexplained")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
