"""Durable's cron expressions against croniter (an independent implementation).

Generates expressions and instants from a seed, asks the DurableTestWorker
binary (its `cron` subcommand, one question per line on standard input) and
croniter for the next ticks, and reports every difference. Where the two
disagree, a search minute by minute decides: a difference where Durable is
wrong fails the check; one where croniter alone is wrong is listed (croniter
6.0.0 misses some month ends). Run by scripts/cron-check, which installs
croniter (pinned) into a throwaway venv.

Compared: five-field expressions with values, ranges, steps (`*/n`, `a-b/n`,
`a/n`), lists and month and weekday names, in UTC and in a zone without
daylight saving and a half-hour offset (Asia/Kolkata); expressions both accept
or both refuse. Left out, where the two differ on purpose (Durable's choices
are tested in Tests/DurableTests/CronTests.swift): a day field that lists every
value (`1-31`, `0-6`) beside a restricted one (croniter then reads "either day",
Durable "every day is allowed": the field is not a restriction), weekday 7,
backwards ranges and daylight-saving changes; and where croniter 6.0.0 reads
standard syntax wrongly: a one-value range `a-a` (croniter: every value) and
`a/n` from the field's last value (`59/5`, croniter: `*/5`).
"""
import random
import subprocess
import sys
from datetime import datetime, timezone

import pytz
from croniter import croniter, CroniterBadDateError

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]


def value(rng, index, low, high):
    number = rng.randint(low, high)
    if index == 3 and rng.random() < 0.3:
        return MONTHS[number - 1]
    if index == 4 and rng.random() < 0.3:
        return DAYS[number]
    return str(number)


def item(rng, index):
    low, high = FIELDS[index]
    kind = rng.random()
    if kind < 0.35:
        return value(rng, index, low, high)
    if kind < 0.6:
        a = rng.randint(low, high - 1)
        b = rng.randint(a + 1, high)
        text = f"{a}-{b}"
        return text + (f"/{rng.randint(1, b - a + 1)}" if rng.random() < 0.4 else "")
    if kind < 0.8:
        return f"*/{rng.randint(1, high - low + 1)}"
    return f"{rng.randint(low, high - 1)}/{rng.randint(1, high - low + 1)}"


def field(rng, index):
    if rng.random() < 0.3:
        return "*"
    return ",".join(item(rng, index) for _ in range(rng.choice([1, 1, 1, 2, 3])))


def number(text, index):
    if index == 3 and text in MONTHS:
        return MONTHS.index(text) + 1
    if index == 4 and text in DAYS:
        return DAYS.index(text)
    return int(text)


def expand(text, index):
    """The values a generated field names (7 as a weekday is Sunday)."""
    low, high = FIELDS[index]
    values = set()
    for part in text.split(","):
        base, slash, step = part.partition("/")
        step = int(step) if step else 1
        if base == "*":
            a, b = low, high
        elif "-" in base:
            a, b = (number(x, index) for x in base.split("-"))
        else:
            a = number(base, index)
            b = high if slash else a
        values.update(range(a, b + 1, step))
    return values


def covers_all(text, index):
    """Whether a generated field names every value of its range."""
    low, high = FIELDS[index]
    return expand(text, index) >= set(range(low, high + 1))


def brute_force(text, zone, seconds, count):
    """The next ticks by looking at every minute (up to two years): the
    tiebreaker when Durable and croniter disagree. Zones here keep one offset."""
    fields = [expand(f, i) for i, f in enumerate(text.split())]
    minutes, hours, doms, months, dows = fields
    either = doms != set(range(1, 32)) and dows != set(range(0, 7))
    offset = int(pytz.timezone(zone).utcoffset(datetime(2000, 1, 1)).total_seconds())
    minute = (int(seconds) // 60 + 1) * 60
    ticks = []
    for _ in range(2 * 366 * 24 * 60):
        local = datetime.fromtimestamp(minute + offset, tz=timezone.utc)
        dom_ok, dow_ok = local.day in doms, (local.weekday() + 1) % 7 in dows
        day_ok = (dom_ok or dow_ok) if either else (dom_ok and dow_ok)
        if local.minute in minutes and local.hour in hours and local.month in months and day_ok:
            ticks.append(minute)
            if len(ticks) == count:
                break
        minute += 60
    return ticks


def expression(rng):
    while True:
        fields = [field(rng, index) for index in range(5)]
        dom, dow = fields[2], fields[4]
        if dom != "*" and covers_all(dom, 2) or dow != "*" and covers_all(dow, 4):
            continue
        return " ".join(fields)


def invalid(rng):
    fields = ["*"] * 5
    index = rng.randrange(5)
    low, high = FIELDS[index]
    fields[index] = rng.choice([str(high + rng.randint(1, 30)), "x", "1-", "*/0", "", "1,,2", "-3"])
    if fields[index] == "":
        return " ".join(fields[:index] + fields[index + 1:])
    return " ".join(fields)


def croniter_ticks(text, zone, seconds, count):
    start = datetime.fromtimestamp(seconds, tz=pytz.timezone(zone))
    try:
        iterator = croniter(text, start)
    except Exception:
        return None
    ticks = []
    try:
        for _ in range(count):
            ticks.append(int(iterator.get_next(float)))
    except CroniterBadDateError:
        pass
    return ticks


def main():
    worker, count = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 2026
    rng = random.Random(seed)
    questions = []
    for _ in range(count):
        text = expression(rng) if rng.random() < 0.9 else invalid(rng)
        zone = rng.choice(["UTC", "UTC", "Asia/Kolkata"])
        seconds = rng.randint(946684800, 2208988800) + rng.random()
        questions.append((text, zone, round(seconds, 3), 5))
    lines = "".join(f"{t}\t{z}\t{s}\t{n}\n" for t, z, s, n in questions)
    answers = subprocess.run([worker, "cron"], input=lines, capture_output=True, text=True, check=True).stdout
    answers = answers.splitlines()
    if len(answers) != len(questions):
        print(f"cron-check: {len(answers)} answers to {len(questions)} questions", file=sys.stderr)
        return 1
    differences, croniter_misses, refused = [], [], 0
    for (text, zone, seconds, n), answer in zip(questions, answers):
        expected = croniter_ticks(text, zone, seconds, n)
        if answer.startswith("error"):
            refused += 1
            if expected is not None:
                differences.append(f"{text!r} in {zone}: Durable refuses ({answer}), croniter accepts")
            continue
        if expected is None:
            differences.append(f"{text!r} in {zone}: croniter refuses, Durable accepts")
            continue
        ours = [int(x) for x in answer.split()]
        if ours != expected:
            truth = brute_force(text, zone, seconds, n)
            line = f"{text!r} in {zone} after {seconds}: Durable {ours}, croniter {expected}, every minute {truth}"
            (croniter_misses if ours == truth else differences).append(line)
    for line in croniter_misses:
        print("cron-check: croniter alone differs (checked minute by minute): " + line)
    for line in differences[:20]:
        print("cron-check: " + line, file=sys.stderr)
    print(f"cron-check: {len(questions)} expressions ({refused} refused by both), "
          f"{(len(questions) - refused) * 5} ticks compared with croniter; {len(differences)} difference(s), "
          f"{len(croniter_misses)} where croniter alone was wrong")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
