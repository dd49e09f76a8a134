"""Settlement journals: settle what dead gateway processes delivered, list the files set aside,
and replay one deliberately.

    manage.py journal_recover                  settle this database's journals now
    manage.py journal_recover --list           files set aside (another database's, or failed)
    manage.py journal_recover --replay FILE    what replaying FILE here would charge (dry run)
    manage.py journal_recover --replay FILE --force   replay it (e.g. after restoring a backup)

On PostgreSQL outcomes are settled in batches. While other connections use the database, one
batch at a time with a pause after each in proportion to the time it took and to how many they
are (GATEWAY_JOURNAL_PAUSE, 1.0: busy at most half the time with one of them); while nobody
does, no pause and two batches at once (GATEWAY_JOURNAL_WORKERS). ``--pace fixed``: the pause
after every batch, whatever the load; ``--pause 0``: no pause at all.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.installation import installation_identity
from apps.core.money import format_credits
from apps.usage.journal import journal_files, journal_recover, journal_replay


class Command(BaseCommand):
    help = "Settle, list or replay the gateway's settlement journals."
    # Recovery, not configuration: without the system checks (URLs, templates, admin; still run
    # by `manage.py check` and the other commands) it starts on 0.7 s of CPU instead of 1.2 s.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=settings.GATEWAY_JOURNAL_DIR)
        parser.add_argument("--list", action="store_true", help="list the journal files")
        parser.add_argument("--replay", metavar="FILE", help="a set-aside file to replay here")
        parser.add_argument("--force", action="store_true", help="really replay (not a dry run)")
        parser.add_argument(
            "--pause",
            type=float,
            default=None,
            help="pause after each batch, as a multiple of its time (GATEWAY_JOURNAL_PAUSE)",
        )
        parser.add_argument(
            "--pace",
            choices=["adaptive", "fixed"],
            default=None,
            help="pause only while others use the database, or always (GATEWAY_JOURNAL_PACE)",
        )

    def handle(self, *args, **options):
        directory = Path(options["dir"] or "")
        if not options["dir"]:
            raise CommandError("GATEWAY_JOURNAL_DIR is empty: the gateway keeps no journal.")
        identity = installation_identity()
        if options["list"]:
            self.stdout.write(f"this database: {identity}")
            for item in journal_files(directory):
                mine = item["path"].name.startswith(f"{identity}-")
                self.stdout.write(
                    f"{item['path'].name}  {item['state']}"
                    f"{'' if mine else ' (another database)'}  "
                    f"{item['outcomes']} outcome(s), {item['accounts']} account(s), "
                    f"{format_credits(item['cost'])} credits"
                )
            return
        if options["replay"]:
            path = Path(options["replay"])
            if not path.is_absolute() and not path.exists():
                path = directory / path
            if not path.is_file():
                raise CommandError(f"No such journal file: {path}")
            report = journal_replay(
                path=path, force=options["force"], pause=options["pause"], pace=options["pace"]
            )
            verb = "settled" if options["force"] else "would settle"
            self.stdout.write(
                f"{path.name}: {report['outcomes']} outcome(s), {report['already']} recorded "
                f"here already; {verb} {report['to_settle']} for {len(report['users'])} "
                f"account(s) (user ids {report['users'][:20]}), "
                f"{format_credits(report['cost'])} credits"
            )
            if options["force"]:
                self.stdout.write(f"settled {report['settled']}, failed {report['failed']}")
            else:
                self.stdout.write("Dry run: nothing written. Add --force to replay.")
            return
        found = journal_recover(
            directory=directory,
            older_than=0,
            identity=identity,
            pause=options["pause"],
            pace=options["pace"],
        )
        self.stdout.write(
            f"settled {found['settled']}, already recorded {found['already']}, "
            f"set aside {found['foreign']} file(s) of another database"
        )
