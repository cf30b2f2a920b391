"""CLI start-up: what a user at a shell pays for one `lifebank` command, against what any Typer CLI pays.

Issue 10 anchors: `lifebank --help` <= 300 ms and a one-shot query's fixed cost <= 300 ms.

    .venv/bin/python benchmarks/cli_startup.py                 # 15 fresh processes per command
    .venv/bin/python benchmarks/cli_startup.py --runs 31
    git archive df2d219 src | tar -x -C /tmp/before       # the code before the start-up work (issue 10)
    .venv/bin/python benchmarks/cli_startup.py --compare-src /tmp/before/src

Every figure is the median wall-clock of N fresh processes (spawn to exit, output to a pipe), the
contenders interleaved round by round so that a change of load hits them alike. The peers run in the same
rounds: `python -c pass` (the interpreter alone), `python -c "import typer"` and a minimal Typer app with
one command and one option, asked for `--help` and run once: the floor any Typer CLI on this interpreter
pays (Typer itself imports Rich for help and pydantic to convert options). A one-shot query's fixed cost
is its one-shot median minus the same query's median in a warm process (the work itself).

The database is a small SQLite bank made with the CLI in a temporary folder (20 participants, 200 serum
tubes, one user), so the one-shot figures are start-up, not work. The CPU time (user + system) of each
process is printed beside its wall-clock: on a shared machine it moves less with the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
LIFEBANK = str(Path(sys.executable).with_name("lifebank"))

TYPER_APP = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def hello(name: str = typer.Option("world", help="whom to greet"), count: int = 1) -> None:
    '''Greet someone.'''
    for _ in range(count):
        print(f"hello {name}")
@app.command()
def bye() -> None:
    '''Say goodbye.'''
app()
"""

PARTICIPANTS = 20
SPECIMENS = 200


def make_bank(folder: Path, src: str | None = None, *, bytecode_cache: bool = True) -> dict[str, str]:
    """A small SQLite bank made with the CLI (of the source tree `src`, if given); returns its environment.

    Python runs as at a user's shell: compiled modules are cached after the first run (under a temporary
    PYTHONPYCACHEPREFIX, so the source tree is not touched). With `bytecode_cache=False` the environment's
    PYTHONDONTWRITEBYTECODE stays as it is (set in some sandboxes: every run compiles LifeBank's sources).
    """
    folder.mkdir(parents=True)
    env = {**os.environ, "LIFEBANK_DATA_DIR": str(folder), "LIFEBANK_NEW_PASSWORD": "bench-password-2024",
           "COLUMNS": "120"}
    if src:
        env["PYTHONPATH"] = src
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(folder.parent / f"pycache-{folder.name}")
    env.pop("LIFEBANK_DATABASE_URL", None)
    env.pop("LIFEBANK_DEFAULT_LOCALE", None)
    people = folder / "participants.csv"
    people.write_text("participant,sex,birth_year,site,consent_codes,consent_date\n" + "".join(
        f"P{i:06d},{'FM'[i % 2]},{1950 + i % 50},SH,DUO:0000042,2024-01-02\n" for i in range(1, PARTICIPANTS + 1)))
    tubes = folder / "specimens.csv"
    tubes.write_text("barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
        f"T{i:08d},P{1 + i % PARTICIPANTS:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,SER-SST-A-D-N-B-A,\n"
        for i in range(SPECIMENS)))
    for args in (["db", "upgrade"], ["import", "participants", str(people)], ["import", "specimens", str(tubes)],
                 ["user", "create", "alice", "--role", "admin"]):
        subprocess.run([LIFEBANK, *args], env=env, check=True, capture_output=True)
    return env


def one_run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall-clock, CPU time user+system) of one fresh process, in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def warm_search_ms(env: dict[str, str], runs: int) -> tuple[float, float]:
    """The search's own work: the median of the same call in a process that has everything loaded, through the
    path the command takes (plain SQL over the driver, `lifebank.biobank.search_direct`) and through the service
    (the ORM path a command falls back to)."""
    code = (
        "import statistics, time\n"
        "from lifebank.biobank import search_direct, service\n"
        "from lifebank.cli import direct\n"
        "from lifebank.cli.context import database\n"
        "db = database()\n"
        "conn = direct.connect()\n"
        "assert conn is not None\n"
        "flt = service.SpecimenFilter(type='SER')\n"
        "plain, orm = [], []\n"
        f"for _ in range({runs}):\n"
        "    t = time.perf_counter(); search_direct.search_specimens(conn, type='SER', limit=50, offset=0)\n"
        "    plain.append(time.perf_counter() - t)\n"
        "    t = time.perf_counter(); service.search_specimens(db, flt, limit=50, offset=0, sort=None)\n"
        "    orm.append(time.perf_counter() - t)\n"
        "print(statistics.median(plain) * 1000, statistics.median(orm) * 1000)\n")
    out = subprocess.run([PYTHON, "-c", code], env=env, check=True, capture_output=True, text=True)
    plain, orm = out.stdout.split()
    return float(plain), float(orm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per command (default 15)")
    parser.add_argument("--compare-src", metavar="SRC",
                        help="also time the lifebank commands of another source tree (e.g. an older commit's "
                             "`src` from `git archive`), on its own bank, in the same rounds: before_* lines")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE as the environment sets it (every run compiles sources)")
    args = parser.parse_args()
    cache = not args.no_bytecode_cache

    with tempfile.TemporaryDirectory(prefix="lifebank-cli-bench-") as tmp:
        env = make_bank(Path(tmp) / "data", bytecode_cache=cache)
        lifebank_commands: dict[str, list[str]] = {
            "lifebank_help": [LIFEBANK, "--help"],
            "lifebank_version": [LIFEBANK, "--version"],
            "lifebank_user_list": [LIFEBANK, "user", "list", "--format", "json"],
            "lifebank_specimens_search": [LIFEBANK, "specimens", "search", "--type", "SER", "--format", "json"],
        }
        contenders: dict[str, tuple[list[str], dict[str, str]]] = {
            "python_pass": ([PYTHON, "-c", "pass"], env),
            "python_import_typer": ([PYTHON, "-c", "import typer"], env),
            "typer_app_help": ([PYTHON, "-c", TYPER_APP, "--help"], env),
            "typer_app_command": ([PYTHON, "-c", TYPER_APP, "hello", "--name", "bank", "--count", "2"], env),
            # What any command that reads the database pays before LifeBank code runs: the libraries it stands on.
            "stack_import_floor": ([PYTHON, "-c", "import typer, typer._adapters, pydantic_settings, sqlalchemy.orm"],
                                   env),
            # What the one-shot search stands on now (no ORM): Typer with Rich's table, the driver, the JSON module.
            "direct_import_floor": ([PYTHON, "-c", "import typer, typer._adapters, rich.table, sqlite3, json"], env),
            **{name: (argv, env) for name, argv in lifebank_commands.items()},
        }
        if args.compare_src:
            old_env = make_bank(Path(tmp) / "before", src=args.compare_src, bytecode_cache=cache)
            contenders.update({f"before_{name}": (argv, old_env) for name, argv in lifebank_commands.items()})
        load_before = os.getloadavg()
        for argv, run_env in contenders.values():  # one unmeasured run each: page cache and .pyc files
            one_run(argv, run_env)
        times: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.runs):
            for name, (argv, run_env) in contenders.items():
                wall, used = one_run(argv, run_env)
                times[name].append(wall)
                cpu[name].append(used)
        warm_ms, warm_orm_ms = warm_search_ms(env, 50)
        load_after = os.getloadavg()

    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"cpu_count: {os.cpu_count()} cores")
    print(f"load_average_before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} (1/5/15 min)")
    print(f"load_average_after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} (1/5/15 min)")
    print(f"python: {sys.version.split()[0]} {PYTHON}")
    print(f"runs: {args.runs} fresh processes per command, median")
    print(f"bytecode_cache: {'on (PYTHONPYCACHEPREFIX in a temporary folder)' if cache else 'as the environment says'}"
          f" (PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', '')!r})")
    print(f"database: SQLite, {PARTICIPANTS} participants, {SPECIMENS} specimens, 1 user")
    if args.compare_src:
        print(f"before_source: PYTHONPATH={args.compare_src}")
    for name, (argv, _env) in contenders.items():
        shown = [a if a != TYPER_APP else "<minimal Typer app: 2 commands, 2 options>" for a in argv]
        prefix = f"PYTHONPATH={args.compare_src} " if name.startswith("before_") else ""
        print(f"command_{name}: {prefix}{shlex.join(shown)}")
    print(f"typer_app_source: {TYPER_APP.strip()!r}")
    for name in contenders:
        p95 = statistics.quantiles(times[name], n=20)[-1] * 1000 if len(times[name]) > 1 else ms[name]
        print(f"{name}: {ms[name]:.0f} ms (p95 {p95:.0f} ms, CPU user+sys median "
              f"{statistics.median(cpu[name]) * 1000:.0f} ms)")
    print(f"specimens_search_warm_in_process: {warm_ms:.1f} ms (plain SQL over the driver, as the command runs it; "
          f"through the ORM service: {warm_orm_ms:.1f} ms)")
    print(f"specimens_search_fixed_cost: {ms['lifebank_specimens_search'] - warm_ms:.0f} ms (target <= 300)")
    print(f"ratio_help_vs_typer_app_help: {ms['lifebank_help'] / ms['typer_app_help']:.2f} x")
    print(f"ratio_help_vs_import_typer: {ms['lifebank_help'] / ms['python_import_typer']:.2f} x")
    print(f"ratio_search_vs_typer_app_command: {ms['lifebank_specimens_search'] / ms['typer_app_command']:.2f} x")
    print(f"ratio_search_vs_stack_import_floor: {ms['lifebank_specimens_search'] / ms['stack_import_floor']:.2f} x")
    print(f"ratio_search_vs_direct_import_floor: {ms['lifebank_specimens_search'] / ms['direct_import_floor']:.2f} x")
    print(f"ratio_user_list_vs_typer_app_command: {ms['lifebank_user_list'] / ms['typer_app_command']:.2f} x")
    for name in lifebank_commands:
        if f"before_{name}" in ms:
            print(f"speedup_{name}: {ms[f'before_{name}'] / ms[name]:.2f} x (before / now)")
    print(f"help_target: {'met' if ms['lifebank_help'] <= 300 else 'missed'} ({ms['lifebank_help']:.0f} ms, "
          "target <= 300)")
    fixed = ms['lifebank_specimens_search'] - warm_ms
    print(f"fixed_cost_target: {'met' if fixed <= 300 else 'missed'} ({fixed:.0f} ms, target <= 300)")


if __name__ == "__main__":
    main()
