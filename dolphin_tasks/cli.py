"""``openfeat-dolphinscheduler``: the command a DS worker runs for an OpenFeat task, and the YAML submitter.

    openfeat-dolphinscheduler run TASK --name NAME --output-prefix PREFIX -- ARGS...   (what a rendered task runs)
    openfeat-dolphinscheduler yaml -f WORKFLOW.yaml [--rest URL] [--run]              (submit a YAML workflow)

``run`` needs only OpenFeat (workers install ``openfeat``); ``yaml`` needs the ``dolphinscheduler`` extra
(pydolphinscheduler) where the workflow is submitted from.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from dolphin_tasks.runner import run_task
from openfeat_core.tasks import RESULT_CLASSES

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openfeat-dolphinscheduler", description="OpenFeat's DolphinScheduler tasks: run one, or submit a YAML."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="Run one OpenFeat task as a DS task (what a rendered Shell task calls).",
        usage="%(prog)s TASK --name NAME --output-prefix PREFIX -- ARGS...",
    )
    run.add_argument("task", choices=sorted(RESULT_CLASSES), help="The openfeat command.")
    run.add_argument("--name", required=True, help="The DS task's name (for the log and the retry marker).")
    run.add_argument("--output-prefix", required=True, help="Prefix of the OUT parameters: <prefix>_<field>.")
    yaml = commands.add_parser("yaml", help="Submit a workflow YAML (OpenFeat task types allowed).")
    yaml.add_argument("-f", "--file", required=True, help="The workflow YAML.")
    yaml.add_argument(
        "--rest",
        metavar="URL",
        help="Submit through DS's REST API at URL (e.g. http://ds:12345/dolphinscheduler) instead of the Python "
        "gateway; token from $DOLPHINSCHEDULER_TOKEN, else --user/--password.",
    )
    yaml.add_argument("--user", default=os.environ.get("DOLPHINSCHEDULER_USER"), help="REST: user to log in as.")
    yaml.add_argument("--password", default=os.environ.get("DOLPHINSCHEDULER_PASSWORD"), help="REST: its password.")
    yaml.add_argument("--tenant", default=None, help="REST: the tenant tasks run as (default: the workflow's).")
    yaml.add_argument("--run", action="store_true", help="Also start it (as 'run: true' in the YAML does).")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``openfeat-dolphinscheduler``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # What follows "--" is the openfeat command's, untouched. Not an argparse positional: REMAINDER right after the
    # task would also take run's own --name and --output-prefix, and "*" cannot follow those options.
    openfeat_arguments: list[str] = []
    if "--" in argv:
        argv, openfeat_arguments = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = _parser().parse_args(argv)
    if args.command == "run":
        sys.exit(run_task(args.task, args.name, args.output_prefix, openfeat_arguments))
    from dolphin_tasks.yaml_workflow import OpenFeatYamlWorkflow

    parsed = OpenFeatYamlWorkflow(args.file)
    if args.rest:
        from dolphin_tasks.rest import submit_over_rest

        settings = dict(parsed["workflow"])
        workflow, code, instance = submit_over_rest(
            lambda: parsed.build()[0],
            args.rest,
            project=settings.get("project"),
            token=os.environ.get("DOLPHINSCHEDULER_TOKEN"),
            user=args.user,
            password=args.password,
            tenant=args.tenant,
            start=args.run or bool(settings.get("run")),
        )
        started = "" if instance is None else f", started as instance {instance}"
        print(f"submitted workflow {workflow.name!r} (code {code}) through {args.rest}{started}")
        return
    workflow, run = parsed.build()
    workflow.submit()
    if run or args.run:
        workflow.start()
    print(f"submitted workflow {workflow.name!r} through the Python gateway")
