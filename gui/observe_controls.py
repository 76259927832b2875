"""The form's "Observability" group: the Prometheus endpoint and the hang dump of the window's
crawls and watched programs.

Not crawl settings (the CLI has them as ``--metrics-port`` / ``--hang-dump-after``, from
``core.observe.options``, not from ``CrawlSettings``), so they are a small group of their own.
``options()`` is what the crawl controller hands to ``core.observe.options.Observability``;
``show_error`` puts a port that could not be served under its field.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox

DEFAULT_PORT = 9464
DEFAULT_HANG_S = 30.0
BIND = "127.0.0.1"  # the window serves this machine only; ``crawl --metrics-bind`` for more

TIPS = {
    "metrics": "Serve Prometheus metrics of the window's crawl or watched program at "
    "http://127.0.0.1:PORT/metrics while one runs (threads by state, CPU per thread, pages, "
    "frontier, RSS, lock waits when tracking); "
    "assets/grafana/threadscope.json is a dashboard over them.",
    "hang": "No progress for this long while work is pending (a crawl: no page; a watched "
    "program: no thread's stack, CPU or scheduling moved while one is not idle by design): "
    "one annotated dump of every thread "
    "(in the Log and a file kept with the run), an alert and a marker on the charts. "
    "Once per episode; 0 turns it off.",
}


@dataclass(frozen=True, slots=True)
class ObserveOptions:
    metrics_port: int | None
    hang_dump_after: float | None


class ObservabilityGroup(QGroupBox):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__("Observability")
        form = QFormLayout(self)
        self.metrics = QCheckBox("Serve Prometheus metrics")
        self.metrics.setToolTip(TIPS["metrics"])
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.port.setToolTip(TIPS["metrics"])
        self.port.setEnabled(False)
        self.metrics.toggled.connect(self._enable_port)
        self.port.valueChanged.connect(self._clear_error)  # a method, not a lambda: no cycle
        self.error = QLabel()
        self.error.setObjectName("error_metrics_port")
        self.error.setStyleSheet("color: #c62828;")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.hang = QDoubleSpinBox()
        self.hang.setRange(0.0, 3600.0)
        self.hang.setDecimals(1)
        self.hang.setSuffix(" s")
        self.hang.setSpecialValueText("off")
        self.hang.setValue(DEFAULT_HANG_S)
        self.hang.setToolTip(TIPS["hang"])
        form.addRow(self.metrics)
        form.addRow("    Port", self.port)
        form.addRow(self.error)
        form.addRow("Hang dump after", self.hang)

    def options(self) -> ObserveOptions:
        return ObserveOptions(
            self.port.value() if self.metrics.isChecked() else None,
            self.hang.value() or None,
        )

    def show_error(self, message: str) -> None:
        """A port that could not be served ("" clears it)."""
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def set_running(self, running: bool) -> None:
        for widget in (self.metrics, self.hang):
            widget.setEnabled(not running)
        self._enable_port()

    def _clear_error(self, *_: object) -> None:
        self.show_error("")

    def _enable_port(self, *_: object) -> None:
        self.port.setEnabled(self.metrics.isChecked() and self.metrics.isEnabled())
        self.show_error("")

    def values(self) -> dict[str, object]:
        return {
            "observe_metrics": self.metrics.isChecked(),
            "observe_port": self.port.value(),
            "observe_hang_s": self.hang.value(),
        }

    def set_values(self, values: dict[str, object]) -> None:
        """Restore :meth:`values`; malformed entries are ignored."""
        if "observe_metrics" in values:  # INI files hand booleans back as "true" / "false"
            self.metrics.setChecked(str(values["observe_metrics"]).lower() in ("true", "1"))
        try:
            if "observe_port" in values:
                self.port.setValue(int(str(values["observe_port"])))
            if "observe_hang_s" in values:
                self.hang.setValue(float(str(values["observe_hang_s"])))
        except ValueError:
            pass
