"""`textune compare`: which method for my data, and how many labels do I need?

`run_grid` trains every method x shots x seed cell (resumable, one JSON line per finished
cell), `write_report` turns `results.jsonl` into markdown, HTML and plots.
"""

from .grid import (ALL, GridMismatch, check_methods, parse_method_options, parse_methods,
                   parse_seeds, parse_shots, read_results, run_grid)
from .report import write_report
from .zeroshot import DEFAULT_TEMPLATES, parse_label_names, templated_examples

__all__ = ["run_grid", "write_report", "read_results", "parse_methods", "parse_shots",
           "parse_seeds", "parse_method_options", "check_methods", "templated_examples", "parse_label_names",
           "DEFAULT_TEMPLATES", "GridMismatch", "ALL"]
