"""Creates that may have landed unseen: `.flashctl/pending-creates.json` beside flash.yaml.

RunPod's endpoint list may show a new endpoint only a while after its create (the client's
`RetryPolicy.settle`). When a create's answer is lost and the list does not show the endpoint
before the call gives up, the create may still land; an `apply` run again at once would plan
a second create of the same name, and RunPod does not refuse a name twice. So `apply` notes
each create before sending it (name, API, when it is settled) and forgets it once its answer
came, RunPod refused it, or the list shows the endpoint. While a noted create is unsettled and
not listed, `apply` refuses to create that name again and says when to run it, and `plan` warns.

    {"format": 1, "creates": [{"name": "shop-api", "api_url": "https://rest.runpod.io",
                               "sent_at": 1764633600.0, "settled_at": 1764633620.0}]}

Times are wall-clock seconds (they must mean the same in the next run).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from flashctl.errors import FlashError
from flashctl.files import write_file
from flashctl.model import Project
from flashctl.outputs import OWN_FOLDER, project_dir

FILE = "pending-creates.json"
LOGGER = logging.getLogger("flashctl.deploy")


@dataclass(frozen=True)
class PendingCreate:
    name: str
    api_url: str
    sent_at: float
    settled_at: float  # by then the list shows it, if it landed

    def until(self) -> str:
        return datetime.fromtimestamp(self.settled_at, timezone.utc).strftime("%H:%M:%S UTC")


class PendingCreates:
    """The noted creates of one project against one API; safe to use from apply's threads."""

    def __init__(
        self, path: Path, api_url: str, settle: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.api_url = api_url
        self.settle = settle
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def of(cls, project: Project, api_url: str, settle: float) -> PendingCreates:
        return cls(project_dir(project) / OWN_FOLDER / FILE, api_url, settle)

    def unsettled(self, names: Iterable[str]) -> list[PendingCreate]:
        """The noted creates of `names` against this API that may still appear in the list."""
        wanted, now = set(names), self._clock()
        return [
            entry
            for entry in self._read()
            if entry.api_url == self.api_url and entry.name in wanted and now < entry.settled_at
        ]

    def sending(self, name: str) -> None:
        now = self._clock()
        self._change(name, PendingCreate(name, self.api_url, now, now + self.settle))

    def forget(self, names: Iterable[str]) -> None:
        """Forget the creates of `names` (answered, refused, or listed), and every settled one."""
        for name in set(names):
            self._change(name, None)

    def _change(self, name: str, entry: PendingCreate | None) -> None:
        with self._lock:
            entries = self._read()
            now = self._clock()
            kept = [
                e
                for e in entries
                if not (e.api_url == self.api_url and e.name == name) and now < e.settled_at
            ]
            if entry is not None:
                kept.append(entry)
            if kept == entries:
                return
            data = {"format": 1, "creates": [asdict(e) for e in kept]}
            try:
                if kept:
                    write_file(self.path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
                else:
                    self.path.unlink(missing_ok=True)  # nothing pending: no file
            except (OSError, FlashError) as err:
                # A read-only checkout: apply goes on, guarded within this run by the client.
                LOGGER.debug("could not update %s: %s", self.path, err)

    def _read(self) -> list[PendingCreate]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [
                PendingCreate(
                    str(e["name"]), str(e["api_url"]), float(e["sent_at"]), float(e["settled_at"])
                )
                for e in data["creates"]
            ]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError):
            return []  # unreadable: flashctl wrote it, and a torn one protects nothing


def warnings(entries: list[PendingCreate]) -> tuple[str, ...]:
    """`plan`'s warnings for these names: apply will not create them yet."""
    return tuple(
        f"{e.name}: an earlier apply's create may still appear in RunPod's list (its answer"
        f" was lost); `flashctl apply` will not create it before {e.until()}."
        for e in entries
    )


def refusal(entries: list[PendingCreate]) -> str:
    """Why `apply` does not create these names now, and when to run it again."""
    lines = [
        f"  {e.name}: created by an earlier apply whose answer was lost; RunPod may list it"
        f" until {e.until()}"
        for e in entries
    ]
    last = max(entries, key=lambda e: e.settled_at).until()
    return (
        "Not creating an endpoint that may already exist (RunPod's list shows a new endpoint"
        " only after a while, and it allows a name twice):\n"
        + "\n".join(lines)
        + f"\nNothing was changed. Run `flashctl apply` again after {last}: it finds the"
        " endpoint then, or creates it if it never landed."
    )
