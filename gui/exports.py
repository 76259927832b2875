"""File ▸ Export: the sampler's metrics as CSV, the last crawl's results as JSONL, charts as PNG."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from core.hosts import save_csv
from gui.charts import CHARTS, ChartPanel
from gui.results_table import ResultsModel
from gui.session import CrawlSession


class ExportMenu(QMenu):
    """Each entry asks for a file name, writes it and emits ``wrote(path)``."""

    wrote = Signal(str)

    def __init__(
        self, session: CrawlSession, charts: ChartPanel, results: ResultsModel, parent: QWidget
    ) -> None:
        super().__init__("&Export", parent)
        self.session = session
        self.results = results
        self.addAction("Metrics as CSV…", partial(self._ask, "metrics.csv", self.write_metrics))
        self.addAction("Results as JSONL…", partial(self._ask, "results.jsonl", self.write_results))
        self.addAction("Hosts as CSV…", partial(self._ask, "hosts.csv", self.write_hosts))
        self.addSeparator()
        for spec in CHARTS:
            write_png = partial(charts.export_png, spec.name)
            self.addAction(
                f"{spec.title} chart as PNG…", partial(self._ask, f"{spec.name}.png", write_png)
            )
        self.addAction(
            "All charts as PNG…", partial(self._ask, "charts.png", charts.export_all_png)
        )

    def _ask(self, suggested: str, write: Callable[[str], object]) -> None:
        path, _ = QFileDialog.getSaveFileName(self.parentWidget(), "Export", suggested)
        if path:
            write(path)
            self.wrote.emit(path)

    def write_metrics(self, path: str) -> None:
        self.session.sampler.to_csv(path)

    def write_hosts(self, path: str) -> None:
        """The last crawl's per-host report (every host), as ``--hosts`` writes it."""
        crawler = self.session.crawler
        save_csv(crawler.hosts() if crawler is not None else [], path)

    def write_results(self, path: str) -> None:
        """Every result of the last run: the engine's results file, not just the visible rows."""
        source = self.session.results_path
        if self.session.crawler is not None and source.exists():
            shutil.copyfile(source, path)
            return
        with open(path, "w", encoding="utf-8") as handle:
            for result in self.results.items():
                handle.write(json.dumps(result.as_dict()) + "\n")
