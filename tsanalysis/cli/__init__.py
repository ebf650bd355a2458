"""The ``tsanalysis`` command line: the same operations as the Python API, for scripts.

Exit codes (shared by every subcommand): 0 success; 1 invalid input or failed operation;
2 bad usage; 3 session not found; 4 refused because the session is active; 5 quality
score under ``--fail-under``; 6 the DuckDB file stayed in use by another process for
``--lock-timeout`` seconds. Errors are one line on stderr; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

import click

from .. import __version__
from ..deleting import COMMAND, command_line
from ..errors import EXIT_FAILED, EXIT_USAGE, TsanalysisError
from ._common import Context

#: Modules adding subcommands to the group (each defines ``register(group)``).
COMMAND_MODULES = ("sessions", "demo", "quality", "export", "migrate", "indicators",
                   "backtest", "delete", "plugins")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db", envvar="TSANALYSIS_DB", metavar="URL",
              help="Store URL: duckdb:///abs/path/file.duckdb or questdb://host[:8812]. "
                   "Default: $TSANALYSIS_DB, else ~/.local/share/tsanalysis/tsanalysis.duckdb.")
@click.option("--lock-timeout", "lock_timeout", envvar="TSANALYSIS_LOCK_TIMEOUT",
              type=click.FloatRange(min=0), metavar="SECONDS",
              help="DuckDB: how long to wait for a file another process is using (a "
                   "message says who after a second), then fail with exit code 6. "
                   "Default: $TSANALYSIS_LOCK_TIMEOUT, else 60.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="tsanalysis")
@click.pass_context
def cli(ctx: click.Context, db: str | None, lock_timeout: float | None, debug: bool) -> None:
    """Recorded market-data sessions: browse, import, assess, export, delete."""
    ctx.obj = Context(db=db, debug=debug, lock_timeout=lock_timeout)
    ctx.call_on_close(ctx.obj.close)


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(cli)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (temporary files go, transactions roll
    back), then exit with 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: Seconds a terminated command gets to unwind before the process ends regardless.
UNWIND_SECONDS = 15.0


def _terminate(signum: int, frame: object) -> None:
    # A second signal, or an unwinding that hangs (a native call that never returns),
    # ends the process at once: a service manager's stop must not wait for ever.
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, lambda n, f: os._exit(128 + n))
    watchdog = threading.Timer(UNWIND_SECONDS, os._exit, args=(128 + signum,))
    watchdog.daemon = True
    watchdog.start()
    raise Terminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return (and exit with) its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if argv is None:  # the process is ours: its signals too
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                signal.signal(sig, _terminate)
    token = COMMAND.set(command_line(args))
    try:
        rv = cli.main(args=args, prog_name="tsanalysis", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except SystemExit as e:
        # click ends a command whose output pipe closed (`tsanalysis ... | head`) with
        # exit 1 and no message, after wrapping stdout; the reader had all it wanted.
        code = e.code if isinstance(e.code, int) else EXIT_FAILED
        if code == 1 and type(sys.stdout).__name__ == "_PacifyFlushWrapper":
            code = 0
    except click.exceptions.UsageError as e:
        e.show()
        code = EXIT_USAGE
    except click.exceptions.Abort as e:
        if isinstance(e.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("error: interrupted", err=True)
            code = 130
        else:
            click.echo("error: aborted", err=True)
            code = EXIT_FAILED
    except click.exceptions.ClickException as e:
        e.show()
        code = e.exit_code
    except TsanalysisError as e:
        if debug:
            raise
        click.echo(f"error: {e}", err=True)
        code = e.exit_code
    except BrokenPipeError:
        code = 0
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        code = 130
    except Terminated as e:
        click.echo(f"error: terminated ({signal.Signals(e.signum).name})", err=True)
        code = 128 + e.signum
    except Exception as e:  # an internal error is still one line unless --debug
        if debug:
            raise
        click.echo(f"error: internal error: {type(e).__name__}: {e} (rerun with --debug "
                   "for the traceback)", err=True)
        code = EXIT_FAILED
    finally:
        COMMAND.reset(token)
    if argv is None:
        _exit(code)
    return code


def _exit(code: int) -> NoReturn:
    """End the ``tsanalysis`` process with ``code`` without finalising the interpreter.

    The command's work is done, and so is what has to happen at exit: the atexit handlers
    run here (DuckDB stores close and checkpoint), then the output is flushed. What is
    skipped is the interpreter's teardown, in which native thread pools (Arrow's, DuckDB's)
    now and then abort a finished process with "terminate called without an active
    exception" (exit -6; apache/arrow#34314): seen in CI after a complete
    `indicators update` on QuestDB.
    """
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe has nothing left to flush into
            stream.flush()
    os._exit(code)
