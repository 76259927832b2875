"""The control panel: target and knobs, turned into one validated :class:`CrawlSettings`.

The knobs are generated from ``core.settings.SETTINGS``: each field's group, label, tooltip,
unit, range and default come from its description, so a new setting appears here by itself
(in the collapsible "Advanced limits" group unless it names another). Validation is the
settings object's own: every edit rebuilds it, a :class:`SettingsError` is shown next to the
field it names, and ``validityChanged`` lets the window keep Start disabled.
"""

from __future__ import annotations

from typing import TypeVar

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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.affinity import crawl_cpu
from core.settings import SETTINGS, CrawlSettings, Group, Kind, Setting
from core.settings_error import SettingsError
from core.strategies import STRATEGIES
from core.testsite.params import SiteParams
from gui.observe_controls import BIND, ObservabilityGroup
from gui.watch_alerts import WatchObserve
from gui.watch_session import Feed
from gui.watch_target import ProcessFields, ProgramFields

W = TypeVar("W", bound=QWidget)
PLACEHOLDER_URL = "http://127.0.0.1/"  # validates the knobs before the test site has a port
THREADS_DEBOUNCE_MS = 400
INT_CEILING = 2**31 - 1  # a spin box's own limit: the ceiling of settings with no maximum
FLOAT_CEILING = 86_400.0  # seconds: a day, for float settings with no maximum
SUFFIX_UNITS = ("s", "ms", "bytes", "KiB", "MiB")  # counts (pages, links) need no suffix
CHOICE_TIPS = {"strategy": {name: cls.summary for name, cls in STRATEGIES.items()}}
"""Tooltips of each choice, from what implements it."""

TOOLTIPS = {
    "pin_workers_unavailable": "Not available here: pinning threads needs Linux, two or more "
    "usable CPUs and a Python with a GIL. Crawl threads run wherever the OS puts them.",
    "site": "Start a synthetic site on 127.0.0.1 in a separate process, so the memory and "
    "threads you watch are the crawler's alone.",
    "pages": "Pages on the embedded site; every page is reachable from /.",
    "latency_ms": "Delay before the site answers each request. With latency L and T threads "
    "the best rate is about T / L pages per second (Little's law).",
    "error_rate": "Share of pages the site answers with a server error; each becomes an error "
    "row and the crawl goes on.",
    "program": "Start your program with Threadscope's agent loaded before its first line and "
    "open a window on it: every thread, its state, stack and locks, registered queues, memory.",
    "process": "Watch a Python process that is already running, from outside (py-spy, at most "
    "twice a second; it needs ptrace permission). Detach leaves it running.",
}


def widget_range(spec: Setting) -> tuple[float, float]:
    """A knob's widget range: whole numbers one step past each bound, so an out-of-range
    value is typed and gets the settings' explanation inline; decimals stop at the bound
    (for ``above`` bounds the bound itself is the invalid value shown)."""
    scale = spec.form_scale
    if spec.kind is Kind.INT:
        low = -1 if spec.minimum is None else int(spec.minimum) // scale - 1
        high = INT_CEILING if spec.maximum is None else int(spec.maximum) // scale + 1
        return max(low, -INT_CEILING), min(high, INT_CEILING)
    low_f = 0.0 if spec.minimum is None else float(spec.minimum)
    return low_f, FLOAT_CEILING if spec.maximum is None else float(spec.maximum)


def form_default(spec: Setting) -> object:
    """The value a knob shows before anyone edits it: the settings' default, in form units."""
    return spec.default // spec.form_scale if spec.kind is Kind.INT else spec.default


class ControlPanel(QWidget):
    """Emits ``validityChanged`` after every edit and ``threadsEdited`` (debounced)."""

    validityChanged = Signal(bool)
    threadsEdited = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._errors: dict[str, QLabel] = {}
        self._running = False
        self.error: SettingsError | None = None
        self.fields: dict[str, QSpinBox | QDoubleSpinBox] = {}
        """The numeric knobs by settings field (values in form units: ``max_body_bytes`` KiB)."""
        self.checks: dict[str, QCheckBox] = {}
        """The check boxes a user can change (and that are saved): pinning only where possible."""
        self.choices: dict[str, QComboBox] = {}
        self.texts: dict[str, QLineEdit] = {}
        self._groups: dict[Group, QFormLayout] = {}
        layout = QVBoxLayout(self)

        target = QGroupBox(Group.TARGET.value)
        target_form = QFormLayout(target)
        self.site_radio = QRadioButton("Embedded test site")
        self.site_radio.setToolTip(TOOLTIPS["site"])
        self.url_radio = QRadioButton(SETTINGS["start_urls"].label)
        self.url_radio.setToolTip(SETTINGS["start_urls"].help)
        self._target_group = QButtonGroup(self)
        self._target_group.addButton(self.site_radio)
        self._target_group.addButton(self.url_radio)
        self.site_radio.setChecked(True)
        target_form.addRow(self.site_radio)
        site = SiteParams()
        self.pages = self._spin(1, 1_000_000, site.pages, TOOLTIPS["pages"])
        self.latency_ms = self._spin(0, 60_000, site.latency_ms, TOOLTIPS["latency_ms"], " ms")
        self.error_rate = self._double(
            0.0, 99.0, 100 * site.error_rate, TOOLTIPS["error_rate"], suffix=" %"
        )
        target_form.addRow("    Pages", self.pages)
        target_form.addRow("    Latency", self.latency_ms)
        target_form.addRow("    Error rate", self.error_rate)
        target_form.addRow(self.url_radio)
        self.url = QLineEdit("https://example.com/")
        self.url.setToolTip(SETTINGS["start_urls"].help)
        self._add_field(target_form, "start_urls", "    URL", self.url)
        self.program_radio = QRadioButton("A Python program")
        self.program_radio.setToolTip(TOOLTIPS["program"])
        self.program = ProgramFields()
        self.process_radio = QRadioButton("A running process")
        self.process_radio.setToolTip(TOOLTIPS["process"])
        self.process = ProcessFields()
        for radio, fields in (
            (self.program_radio, self.program),
            (self.process_radio, self.process),
        ):
            self._target_group.addButton(radio)
            target_form.addRow(radio)
            target_form.addRow(fields)
        layout.addWidget(target)

        crawl = QGroupBox(Group.CRAWL.value)
        self._groups[Group.CRAWL] = QFormLayout(crawl)
        layout.addWidget(crawl)
        self.advanced_button = QToolButton()
        self.advanced_button.setText(Group.ADVANCED.value)
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setAutoRaise(True)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced = QGroupBox()
        self.advanced.setVisible(False)
        self._groups[Group.ADVANCED] = QFormLayout(self.advanced)
        self.advanced_button.toggled.connect(self.show_advanced)
        layout.addWidget(self.advanced_button)
        layout.addWidget(self.advanced)
        self._build_knobs()
        self.strategy = self.choices["strategy"]
        self.obey_robots = self.checks["obey_robots"]
        self.pin_workers = self.checks["pin_workers"]
        if crawl_cpu(True) is None:
            self.pin_workers.setChecked(False)
            self.pin_workers.setEnabled(False)
            self.pin_workers.setToolTip(TOOLTIPS["pin_workers_unavailable"])
            del self.checks["pin_workers"]
        self.observe = ObservabilityGroup()
        layout.addWidget(self.observe)
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

    @property
    def watch_target(self) -> str | None:
        """ "program" or "process" when Start opens a window on a program, else None."""
        if self.program_radio.isChecked():
            return "program"
        return "process" if self.process_radio.isChecked() else None

    def watch_feed(self) -> Feed:
        """What Start watches, with the Observability group's hang dump and metrics port;
        raises ``WatchError`` with one line naming the bad field."""
        options = self.observe.options()
        observe = WatchObserve(options.hang_dump_after, options.metrics_port, BIND)
        fields = self.program if self.program_radio.isChecked() else self.process
        return fields.feed(observe)

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
        url = start_url or (self.url.text() if self.url_radio.isChecked() else PLACEHOLDER_URL)
        values: dict[str, object] = {
            name: spin.value() * SETTINGS[name].form_scale for name, spin in self.fields.items()
        }
        values.update({name: box.currentText() for name, box in self.choices.items()})
        values.update({name: line.text() for name, line in self.texts.items()})
        values.update({name: box.isChecked() for name, box in self.checks.items()})
        values["pin_workers"] = self.pin_workers.isChecked()  # unchecked where unavailable
        return CrawlSettings(start_urls=(url,), **values)  # type: ignore[arg-type]

    def validate(self) -> bool:
        """Rebuild the settings; show the error (if any) next to its field."""
        try:
            self.settings()
            error = None
        except SettingsError as exc:
            error = exc
        self.error = error
        for name, label in self._errors.items():
            message = error.message if error is not None and error.field == name else ""
            label.setText(message)
            label.setVisible(bool(message))
        if error is not None and error.field not in self._errors:
            # A cross-field rule with no widget of its own: show it under the threads knob.
            label = self._errors["threads"]
            label.setText(str(error))
            label.setVisible(True)
        elif error is not None and SETTINGS[error.field].group is Group.ADVANCED:
            self.show_advanced(True)
        self.validityChanged.emit(error is None)
        return error is None

    def set_running(self, running: bool) -> None:
        """While a crawl runs only the knobs that can change live stay editable."""
        self._running = running
        self.observe.set_running(running)
        for widget in self._editable_widgets():
            widget.setEnabled(not running)
        if not running:
            self._on_target_toggled()

    def show_advanced(self, shown: bool) -> None:
        """Open or fold the "Advanced limits" group."""
        self.advanced.setVisible(shown)
        self.advanced_button.setChecked(shown)
        arrow = Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        self.advanced_button.setArrowType(arrow)

    # -- persistence ------------------------------------------------------------------------

    def values(self) -> dict[str, object]:
        values: dict[str, object] = {name: w.value() for name, w in self.fields.items()}
        values.update({name: box.currentText() for name, box in self.choices.items()})
        values.update({name: line.text() for name, line in self.texts.items()})
        values.update(
            target=self.watch_target or ("site" if self.uses_site else "url"),
            url=self.url.text(),
            program_command=self.program.command.text(),
            program_cwd=self.program.cwd.text(),
            program_env=self.program.env.toPlainText(),
            site_pages=self.pages.value(),
            site_latency_ms=self.latency_ms.value(),
            site_error_rate=self.error_rate.value(),
        )
        values.update({name: box.isChecked() for name, box in self.checks.items()})
        values.update(self.observe.values())
        return values

    def set_values(self, values: dict[str, object]) -> None:
        """Restore what :meth:`values` returned; unknown or malformed entries are ignored."""
        spins: dict[str, QSpinBox | QDoubleSpinBox] = {
            **self.fields,
            "site_pages": self.pages,
            "site_latency_ms": self.latency_ms,
            "site_error_rate": self.error_rate,
        }
        for name, spin in spins.items():
            if name in values:
                try:
                    text = str(values[name])
                    if isinstance(spin, QSpinBox):
                        spin.setValue(int(text))
                    else:
                        spin.setValue(float(text))
                except (TypeError, ValueError):
                    continue
        if "url" in values:
            self.url.setText(str(values["url"]))
        for name, line in (
            ("program_command", self.program.command),
            ("program_cwd", self.program.cwd),
        ):
            if name in values:
                line.setText(str(values[name]))
        if "program_env" in values:
            self.program.env.setPlainText(str(values["program_env"]))
        for name, box in self.choices.items():
            if values.get(name) in SETTINGS[name].choices:
                box.setCurrentText(str(values[name]))
        for name, line in self.texts.items():
            if name in values:
                line.setText(str(values[name]))
        for name, check in self.checks.items():
            if name in values:  # INI files hand booleans back as "true" / "false"
                check.setChecked(str(values[name]).lower() in ("true", "1"))
        if values.get("target") == "url":
            self.url_radio.setChecked(True)
        elif values.get("target") == "site":
            self.site_radio.setChecked(True)
        elif values.get("target") == "program":
            self.program_radio.setChecked(True)
        elif values.get("target") == "process":
            self.process_radio.setChecked(True)
        self.observe.set_values(values)
        self.validate()

    # -- building ---------------------------------------------------------------------------

    def _build_knobs(self) -> None:
        """One widget per described field, grouped: choices, then numbers, then switches."""
        order = {Kind.CHOICE: 0, Kind.INT: 1, Kind.FLOAT: 1, Kind.TEXT: 2, Kind.BOOL: 3}
        specs = [s for s in SETTINGS.values() if s.group in self._groups and s.kind in order]
        for spec in sorted(specs, key=lambda s: order[s.kind]):  # stable: field order within
            form = self._groups[spec.group]  # type: ignore[index]
            if spec.kind is Kind.BOOL:
                box = QCheckBox(spec.label)
                box.setChecked(bool(spec.default))
                box.setToolTip(spec.help)
                box.toggled.connect(self.validate)
                form.addRow(box)
                self.checks[spec.name] = box
            elif spec.kind is Kind.CHOICE:
                combo = self._add_field(form, spec.name, spec.label, self._choice(spec))
                self.choices[spec.name] = combo
            elif spec.kind is Kind.TEXT:
                line = QLineEdit(str(spec.default))
                line.setCursorPosition(0)
                line.setToolTip(spec.help)
                line.textChanged.connect(self.validate)
                self.texts[spec.name] = self._add_field(form, spec.name, spec.label, line)
            else:
                spin = self._add_field(form, spec.name, spec.label, self._number(spec))
                self.fields[spec.name] = spin

    def _number(self, spec: Setting) -> QSpinBox | QDoubleSpinBox:
        low, high = widget_range(spec)
        unit = spec.form_unit or spec.unit
        suffix = f" {unit}" if unit in SUFFIX_UNITS else ""
        value = form_default(spec)
        if spec.kind is Kind.INT:
            return self._spin(int(low), int(high), int(value), spec.help, suffix)  # type: ignore[call-overload]
        return self._double(low, high, float(value), spec.help, suffix)  # type: ignore[arg-type]

    def _choice(self, spec: Setting) -> QComboBox:
        box = QComboBox()
        tips = CHOICE_TIPS.get(spec.name, {})
        for i, name in enumerate(spec.choices):
            box.addItem(name)
            box.setItemData(i, tips.get(name, spec.help), Qt.ItemDataRole.ToolTipRole)
        box.setCurrentText(str(spec.default))

        def on_choice(name: str) -> None:
            box.setToolTip(tips.get(name, spec.help))
            self.validate()

        box.setToolTip(tips.get(box.currentText(), spec.help))
        box.currentTextChanged.connect(on_choice)
        return box

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

    def _add_field(self, form: QFormLayout, name: str, label: str, widget: W) -> W:
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
        """Whether the chosen strategy can change its thread count while it runs."""
        return STRATEGIES[self.strategy.currentText()].resizable

    def _live(self, name: str) -> bool:
        return SETTINGS[name].live and (name != "threads" or self.resizable)

    def _editable_widgets(self) -> list[QWidget]:
        knobs: dict[str, QWidget] = {**self.fields, **self.choices, **self.texts, **self.checks}
        return [
            *(w for name, w in knobs.items() if not self._live(name)),
            self.site_radio,
            self.url_radio,
            self.url,
            self.pages,
            self.latency_ms,
            self.error_rate,
            self.program_radio,
            self.program,
            self.process_radio,
            self.process,
        ]

    def _on_target_toggled(self, *_args: object) -> None:
        if not self._running:
            site = self.uses_site
            for widget in (self.pages, self.latency_ms, self.error_rate):
                widget.setEnabled(site)
            self.url.setEnabled(self.url_radio.isChecked())
            self.program.setEnabled(self.program_radio.isChecked())
            self.process.setEnabled(self.process_radio.isChecked())
        self.validate()

    def _emit_threads(self) -> None:
        if self._running and self.error is None:
            self.threadsEdited.emit(self.fields["threads"].value())
