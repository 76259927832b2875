"""The control panel: target and knobs, turned into one validated :class:`CrawlSettings`.

Validation is the settings object's own: every edit rebuilds it, a :class:`SettingsError` is
shown next to the field it names, and ``validityChanged`` lets the window keep Start disabled.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.affinity import crawl_cpu
from core.settings import STRATEGIES, CrawlSettings, SettingsError

PLACEHOLDER_URL = "http://127.0.0.1/"  # validates the knobs before the test site has a port
THREADS_DEBOUNCE_MS = 400
DEFAULTS = CrawlSettings(start_urls=(PLACEHOLDER_URL,))


@dataclass(frozen=True, slots=True)
class SiteParams:
    """Knobs of the embedded test site (see ``core.testsite.TestSite``)."""

    pages: int
    latency_ms: int
    error_rate: float  # 0..1


# (settings field, label, minimum, maximum, default, tooltip). Ranges are a little wider than
# what CrawlSettings accepts on purpose: out-of-range values get its explanation inline.
INT_KNOBS = (
    (
        "threads",
        "Threads",
        0,
        1024,
        8,
        "Worker threads in the pool. Crawling is I/O-bound: a thread waiting on a socket "
        "releases the GIL, so more threads overlap more network waits, until the server, the "
        "CPU (parsing holds the GIL) or the frontier becomes the limit. Change it while a crawl "
        "runs and watch the busy-workers line.",
    ),
    (
        "max_depth",
        "Max depth",
        -1,
        10_000,
        DEFAULTS.max_depth,
        "How many links away from the start URL to follow. The frontier is breadth-first, so "
        "depth d is finished before d+1 starts.",
    ),
    (
        "max_pages",
        "Max pages",
        0,
        100_000_000,
        1_000,
        "Stop after this many pages. The count is shared by every worker under a lock, so "
        "the limit is exact however many threads race for it.",
    ),
    (
        "frontier_size",
        "Frontier bound",
        0,
        10_000_000,
        DEFAULTS.frontier_size,
        "Back-pressure: how many discovered URLs wait in memory. When it is full, workers do "
        "not block on it (a blocked producer that is also the consumer deadlocks the pool); "
        "the overflow spills to disk in order and comes back as the queue drains.",
    ),
)
FLOAT_KNOBS = (
    (
        "connect_timeout",
        "Connect timeout",
        0.0,
        600.0,
        DEFAULTS.connect_timeout,
        "Seconds to wait for a TCP connection. Every blocking call needs a bound, or one dead "
        "host can hold a worker thread forever and Stop cannot be prompt.",
    ),
    (
        "read_timeout",
        "Read timeout",
        0.0,
        600.0,
        DEFAULTS.read_timeout,
        "Seconds a socket may stay silent between bytes. It bounds each wait, not the whole "
        "download: a server trickling one byte at a time never trips it.",
    ),
    (
        "deadline",
        "Deadline",
        0.0,
        3600.0,
        DEFAULTS.deadline,
        "Total seconds for one request, retries included. This is what catches the trickling "
        "server the read timeout cannot.",
    ),
)
STRATEGY_TIPS = {
    "bounded": "A fixed pool of workers around one bounded frontier (this engine's design): "
    "memory stays bounded (the overflow spills to disk), every wait has a timeout, and the "
    "thread count can change while it runs.",
    "pool": "The tutorial design: one dispatcher thread feeds an unbounded queue.Queue into a "
    "ThreadPoolExecutor. Fixed threads, but the backlog (and memory) grows with the site.",
    "recursive": "A few threads, each recursing depth-first into the links it finds, sharing a "
    "lock-protected visited set: no pool, no queue; threads finish unevenly and each stack "
    "frame holds its page's remaining links.",
    "thread-per-url": "A new thread for every discovered link: watch the thread count "
    "explode. A hard cap (max spawned threads) keeps the machine alive; past it the finder "
    "crawls the link itself.",
}
TOOLTIPS = {
    "max_body_bytes": "Bodies are streamed and cut at this size (after decompression), so one "
    "huge page cannot blow up the memory of the whole process: N threads × this bound is the "
    "worst case in flight.",
    "obey_robots": "Fetch each host's robots.txt once (cached and shared by all threads under "
    "a lock) and skip what it disallows.",
    "pin_workers": "Under the GIL one thread runs Python at a time, and every send and recv "
    "hands the GIL to a waiting thread: waking it on the same core is cheaper than waking it "
    "on another. With every crawl thread pinned to one core those hand-offs stay same-core "
    "wake-ups, which makes a busy crawl faster; the gil-cores experiment measures it.",
    "pin_workers_unavailable": "Not available here: pinning threads needs Linux, two or more "
    "usable CPUs and a Python with a GIL. Crawl threads run wherever the OS puts them.",
    "site": "Start a synthetic site on 127.0.0.1 in a separate process, so the memory and "
    "threads you watch are the crawler's alone.",
    "url": "Any http(s) URL; the crawl stays on its host.",
    "pages": "Pages on the embedded site; every page is reachable from /.",
    "latency_ms": "Delay before the site answers each request. With latency L and T threads "
    "the best rate is about T / L pages per second (Little's law).",
    "error_rate": "Share of pages the site answers with a server error; each becomes an error "
    "row and the crawl goes on.",
}


class ControlPanel(QWidget):
    """Emits ``validityChanged`` after every edit and ``threadsEdited`` (debounced)."""

    validityChanged = Signal(bool)
    threadsEdited = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._errors: dict[str, QLabel] = {}
        self._running = False
        self.error: SettingsError | None = None
        layout = QVBoxLayout(self)

        target = QGroupBox("Target")
        target_form = QFormLayout(target)
        self.site_radio = QRadioButton("Embedded test site")
        self.site_radio.setToolTip(TOOLTIPS["site"])
        self.url_radio = QRadioButton("URL")
        self.url_radio.setToolTip(TOOLTIPS["url"])
        self._target_group = QButtonGroup(self)
        self._target_group.addButton(self.site_radio)
        self._target_group.addButton(self.url_radio)
        self.site_radio.setChecked(True)
        target_form.addRow(self.site_radio)
        self.pages = self._spin(1, 1_000_000, 500, TOOLTIPS["pages"])
        self.latency_ms = self._spin(0, 60_000, 20, TOOLTIPS["latency_ms"], suffix=" ms")
        self.error_rate = self._double(0.0, 99.0, 2.0, TOOLTIPS["error_rate"], suffix=" %")
        target_form.addRow("    Pages", self.pages)
        target_form.addRow("    Latency", self.latency_ms)
        target_form.addRow("    Error rate", self.error_rate)
        target_form.addRow(self.url_radio)
        self.url = QLineEdit("https://example.com/")
        self.url.setToolTip(TOOLTIPS["url"])
        self._add_field(target_form, "start_urls", "    URL", self.url)
        layout.addWidget(target)

        knobs = QGroupBox("Crawl")
        form = QFormLayout(knobs)
        self.fields: dict[str, QWidget] = {}
        self.strategy = QComboBox()
        for i, name in enumerate(STRATEGIES):
            self.strategy.addItem(name)
            self.strategy.setItemData(i, STRATEGY_TIPS.get(name, ""), Qt.ItemDataRole.ToolTipRole)
        self.strategy.setToolTip(STRATEGY_TIPS[self.strategy.currentText()])
        self.strategy.currentTextChanged.connect(self._on_strategy)
        self._add_field(form, "strategy", "Strategy", self.strategy)
        for name, label, low, high, default, tip in INT_KNOBS:
            self.fields[name] = self._add_field(
                form, name, label, self._spin(low, high, default, tip)
            )
        for name, label, low, high, default, tip in FLOAT_KNOBS:
            self.fields[name] = self._add_field(
                form, name, label, self._double(low, high, default, tip, suffix=" s")
            )
        body = self._spin(0, 1_048_576, DEFAULTS.max_body_bytes // 1024, TOOLTIPS["max_body_bytes"])
        body.setSuffix(" KiB")
        self.fields["max_body_bytes"] = self._add_field(form, "max_body_bytes", "Max body", body)
        self.obey_robots = self._check(form, "Obey robots.txt", TOOLTIPS["obey_robots"])
        self.pin_workers = self._check(form, "Workers on one core", TOOLTIPS["pin_workers"])
        self.checks = {"obey_robots": self.obey_robots}
        """The check boxes a user can change (and that are saved): pinning only where possible."""
        if crawl_cpu(True) is None:
            self.pin_workers.setChecked(False)
            self.pin_workers.setEnabled(False)
            self.pin_workers.setToolTip(TOOLTIPS["pin_workers_unavailable"])
        else:
            self.checks["pin_workers"] = self.pin_workers
        layout.addWidget(knobs)
        layout.addStretch(1)

        self._threads_timer = QTimer(self)
        self._threads_timer.setSingleShot(True)
        self._threads_timer.setInterval(THREADS_DEBOUNCE_MS)
        self._threads_timer.timeout.connect(self._emit_threads)
        self.fields["threads"].valueChanged.connect(self._threads_timer.start)
        self.url.textChanged.connect(self.validate)
        self._target_group.buttonToggled.connect(self._on_target_toggled)
        self._on_target_toggled()

    # -- reading the form -------------------------------------------------------------------

    @property
    def uses_site(self) -> bool:
        return self.site_radio.isChecked()

    def site_params(self) -> SiteParams:
        return SiteParams(
            pages=self.pages.value(),
            latency_ms=self.latency_ms.value(),
            error_rate=self.error_rate.value() / 100.0,
        )

    def settings(self, start_url: str | None = None) -> CrawlSettings:
        """The form as settings; ``start_url`` replaces the target (the test site's URL).

        Raises :class:`SettingsError` naming the field.
        """
        url = start_url or (PLACEHOLDER_URL if self.uses_site else self.url.text())
        values = {name: widget.value() for name, widget in self.fields.items()}
        values["max_body_bytes"] *= 1024
        return CrawlSettings(
            start_urls=(url,),
            obey_robots=self.obey_robots.isChecked(),
            pin_workers=self.pin_workers.isChecked(),
            strategy=self.strategy.currentText(),
            **values,
        )

    def validate(self) -> bool:
        """Rebuild the settings; show the error (if any) next to its field."""
        try:
            self.settings()
            error = None
        except SettingsError as exc:
            error = exc
        self.error = error
        for name, label in self._errors.items():
            shown = error is not None and error.field == name
            label.setText(error.message if shown else "")
            label.setVisible(shown)
        if error is not None and error.field not in self._errors:
            # A cross-field rule with no widget of its own: show it under the threads knob.
            label = self._errors["threads"]
            label.setText(str(error))
            label.setVisible(True)
        self.validityChanged.emit(error is None)
        return error is None

    def set_running(self, running: bool) -> None:
        """While a crawl runs only the thread count stays editable."""
        self._running = running
        for widget in self._editable_widgets():
            widget.setEnabled(not running)
        if not running:
            self._on_target_toggled()

    # -- persistence ------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        values: dict[str, object] = {name: w.value() for name, w in self.fields.items()}
        values.update(
            target="site" if self.uses_site else "url",
            url=self.url.text(),
            strategy=self.strategy.currentText(),
            site_pages=self.pages.value(),
            site_latency_ms=self.latency_ms.value(),
            site_error_rate=self.error_rate.value(),
        )
        values.update({name: box.isChecked() for name, box in self.checks.items()})
        return values

    def set_values(self, values: dict[str, object]) -> None:
        """Restore what :meth:`values` returned; unknown or malformed entries are ignored."""
        widgets = {
            **self.fields,
            "site_pages": self.pages,
            "site_latency_ms": self.latency_ms,
            "site_error_rate": self.error_rate,
        }
        for name, widget in widgets.items():
            if name in values:
                try:
                    widget.setValue(type(widget.value())(values[name]))
                except (TypeError, ValueError):
                    continue
        if "url" in values:
            self.url.setText(str(values["url"]))
        if values.get("strategy") in STRATEGIES:
            self.strategy.setCurrentText(str(values["strategy"]))
        for name, box in self.checks.items():
            if name in values:  # INI files hand booleans back as "true" / "false"
                box.setChecked(str(values[name]).lower() in ("true", "1"))
        if values.get("target") == "url":
            self.url_radio.setChecked(True)
        elif values.get("target") == "site":
            self.site_radio.setChecked(True)
        self.validate()

    # -- building ---------------------------------------------------------------------------

    def _spin(self, low: int, high: int, value: int, tip: str, suffix: str = "") -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.setSuffix(suffix)
        spin.setGroupSeparatorShown(True)
        spin.setKeyboardTracking(False)
        spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        spin.valueChanged.connect(self.validate)
        return spin

    def _double(
        self, low: float, high: float, value: float, tip: str, suffix: str = ""
    ) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(low, high)
        spin.setDecimals(1)
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.setSuffix(suffix)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(self.validate)
        return spin

    def _check(self, form: QFormLayout, label: str, tip: str) -> QCheckBox:
        box = QCheckBox(label)
        box.setChecked(True)
        box.setToolTip(tip)
        box.toggled.connect(self.validate)
        form.addRow(box)
        return box

    def _add_field(self, form: QFormLayout, name: str, label: str, widget: QWidget) -> QWidget:
        error = QLabel()
        error.setObjectName(f"error_{name}")
        error.setStyleSheet("color: #c62828;")
        error.setWordWrap(True)
        error.setVisible(False)
        box = QWidget()
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        box_layout.setSpacing(1)
        box_layout.addWidget(widget)
        box_layout.addWidget(error)
        form.addRow(label, box)
        self._errors[name] = error
        return widget

    def error_label(self, name: str) -> QLabel:
        return self._errors[name]

    @property
    def resizable(self) -> bool:
        """Only the bounded pool can change its thread count while it runs."""
        return self.strategy.currentText() == "bounded"

    def _editable_widgets(self) -> list[QWidget]:
        widgets = [w for name, w in self.fields.items() if name != "threads" or not self.resizable]
        return [
            *widgets,
            self.strategy,
            *self.checks.values(),
            self.site_radio,
            self.url_radio,
            self.url,
            self.pages,
            self.latency_ms,
            self.error_rate,
        ]

    def _on_target_toggled(self, *_args) -> None:
        if not self._running:
            site = self.uses_site
            self.url.setEnabled(not site)
            for widget in (self.pages, self.latency_ms, self.error_rate):
                widget.setEnabled(site)
        self.validate()

    def _on_strategy(self, name: str) -> None:
        self.strategy.setToolTip(STRATEGY_TIPS.get(name, ""))
        self.validate()

    def _emit_threads(self) -> None:
        if self._running and self.error is None:
            self.threadsEdited.emit(self.fields["threads"].value())
