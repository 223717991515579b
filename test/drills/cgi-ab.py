#!/usr/bin/env python3
"""CGI runs side by side, alternated: wall, CPU and adrater's Server-Timing phases.

  python3 test/drills/cgi-ab.py RUNS NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND runs RUNS times (after 2 warm-up rounds), the commands taking turns, so that
a machine that slows down or speeds up meanwhile weighs on all of them alike. Every run gets
a web server's environment only (CGI variables, PATH; QUERY_STRING from $QS or the peers
rig's 3 URLs), plus VAR=value words written before the command's path:

  python3 test/drills/cgi-ab.py 60 node='/usr/bin/node -e 0' \\
      before='ADRATER_DB=mysql://root@127.0.0.1:3306/test /tmp/old/bin/adrater' \\
      after='ADRATER_DB=mysql://root@127.0.0.1:3306/test bin/adrater'

Prints per command the medians of wall ms, CPU ms (user + system, from wait4) and each
Server-Timing phase the answers carry, and wall and CPU as a multiple of the first command.
"""
import os
import re
import statistics
import subprocess
import sys
import time

QS = os.environ.get('QS', 'url=http://www.site17.example/&url=site42.example&url=new1.example&priority=1')
WARM_UP = 2


def parse(spec):
    name, command = spec.split('=', 1)
    words = command.split()
    env = {'PATH': '/usr/local/bin:/usr/bin:/bin', 'GATEWAY_INTERFACE': 'CGI/1.1', 'REQUEST_METHOD': 'GET',
           'QUERY_STRING': QS, 'REMOTE_ADDR': '127.0.0.1'}
    while words and '=' in words[0] and not words[0].startswith(('/', '.')):
        key, value = words.pop(0).split('=', 1)
        env[key] = value
    if not words:
        sys.exit(f'{name}: no command')
    return name, words, env


def run_once(argv, env):
    started = time.perf_counter()
    child = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'{argv}: exit status {os.waitstatus_to_exitcode(status)}')
    phases = {}
    timing = re.search(rb'Server-Timing: ([^\r\n]*)', out)
    if timing:
        for key, value in re.findall(rb'(\w+);dur=([\d.]+)', timing.group(1)):
            phases[key.decode()] = float(value)
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, phases


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    cases = [parse(spec) for spec in sys.argv[2:]]
    results = {name: {'wall': [], 'cpu': []} for name, _, _ in cases}
    for round_ in range(runs + WARM_UP):
        for name, argv, env in cases:
            wall, cpu, phases = run_once(argv, env)
            if round_ < WARM_UP:
                continue
            results[name]['wall'].append(wall)
            results[name]['cpu'].append(cpu)
            for key, value in phases.items():
                results[name].setdefault(key, []).append(value)
    first = cases[0][0]
    base_wall = statistics.median(results[first]['wall'])
    base_cpu = statistics.median(results[first]['cpu'])
    print(f'{runs} alternated runs each, medians (ms); x = multiple of {first}')
    for name, _, _ in cases:
        medians = {key: statistics.median(values) for key, values in results[name].items()}
        cells = '  '.join(f'{key} {value:6.1f}' for key, value in medians.items())
        print(f"{name:12s} {cells}  | wall x{medians['wall'] / base_wall:.2f}  cpu x{medians['cpu'] / base_cpu:.2f}")


if __name__ == '__main__':
    main()
