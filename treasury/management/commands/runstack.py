"""Run web, Celery worker and Celery beat together, logs interleaved, Ctrl-C stops all."""

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

COLORS = {"web": "36", "worker": "33", "beat": "35", "sims": "32"}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Start web + worker + beat in one terminal (used by `make run`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--demo", action="store_true",
            help="Also run the simulators with the demo world `seed_demo` left, and point "
            "web, worker and beat at them.",
        )  # fmt: skip
        parser.add_argument(
            "--live-every", type=float, default=600, metavar="SECONDS",
            help="With --demo: a new Wise client payment (and its webhook) this often.",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        port, host = options["port"], options["host"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes: dict[str, list[str]] = {}
        if options["demo"]:
            from simulators.demo import demo_settings, demo_urls

            env.update(demo_settings(demo_urls()))
            processes["sims"] = [
                python, "manage.py", "simulators", "--demo",
                "--webhook-url", f"http://{host}:{port}/webhooks/wise/",
                "--live-every", str(options["live_every"]),
            ]  # fmt: skip
        processes |= {
            "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            "worker": [
                python, "-m", "celery", "-A", "treasury", "worker",
                "--loglevel", "INFO", "--concurrency", "2", "--hostname", "bulwark@%h",
            ],
            "beat": [python, "-m", "celery", "-A", "treasury", "beat", "--loglevel", "INFO"],
        }  # fmt: skip
        children: dict[str, subprocess.Popen[bytes]] = {}
        for name, command in processes.items():
            children[name] = subprocess.Popen(  # noqa: S603 - fixed argv, our own programs
                command,
                cwd=settings.BASE_DIR,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
            )
            threading.Thread(target=self._pump, args=(name, children[name]), daemon=True).start()
        self._banner(host, port, demo=options["demo"])
        # A SIGTERM (from a supervisor or `timeout`) stops the children like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.5)
            dead = [name for name, child in children.items() if child.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping web, worker and beat…")
        finally:
            self._stop(children)

    def _pump(self, name: str, child: subprocess.Popen[bytes]) -> None:
        prefix = f"\x1b[{COLORS.get(name, '0')}m{name:>6} |\x1b[0m "
        assert child.stdout is not None
        for line in iter(child.stdout.readline, b""):
            sys.stdout.write(prefix + line.decode(errors="replace"))
            sys.stdout.flush()

    def _banner(self, host: str, port: int, *, demo: bool) -> None:
        from treasury.demo import DEMO_USERS

        lines = [
            "",
            f"  Bulwark is starting at  http://{host}:{port}/",
            *(f"  {role:<11} login: {u} / {p}" for role, u, p in DEMO_USERS if demo),
            "  Wise, Xero, ECB and Treasury are the local simulators (demo)." if demo else "",
            f"  Ctrl-C stops web, worker, beat{' and the simulators' if demo else ''}.",
            "",
        ]
        self.stdout.write(self.style.SUCCESS("\n".join(lines)))

    @staticmethod
    def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
        # Ctrl-C reaches every process of the terminal's group at once; a second one (or a
        # supervisor's SIGTERM) while the children finish must not leave them orphaned.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in children.values():
            try:
                child.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()
