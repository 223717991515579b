#!/usr/bin/env python3
# Time from spawning a FastCGI responder to its first answer, install copies alternated
# (pass the bin of each): as mod_fcgid starts one (the listening socket on fd 0, a request
# already waiting) or as nginx's deployment does (`fcgi --listen`, connected as soon as the
# socket is there). In a web server's environment (PATH alone). Prints the median and the
# quartiles of each. The answer must be a 200.
# Usage: responder-start.py [--listen] RUNS DB BIN [BIN ...]
#   e.g. responder-start.py 20 mysql://root@127.0.0.1:3306/test /tmp/before/bin/adrater bin/adrater
import os, socket, statistics, struct, subprocess, sys, tempfile, time

args = sys.argv[1:]
listen = args[0] == '--listen'
if listen:
    args = args[1:]
if len(args) < 3:
    sys.exit(__doc__ or 'usage: responder-start.py [--listen] RUNS DB BIN [BIN ...]')
runs, db, bins = int(args[0]), args[1], [os.path.abspath(b) for b in args[2:]]


def record(kind, content):
    pad = -len(content) % 8
    return struct.pack('>BBHHBB', 1, kind, 1, len(content), pad, 0) + content + b'\0' * pad


def pairs(params):
    out = b''
    for name, value in params.items():
        name, value = name.encode(), value.encode()
        out += bytes([len(name), len(value)]) + name + value
    return out


PARAMS = {'GATEWAY_INTERFACE': 'CGI/1.1', 'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '/adrater', 'SERVER_PROTOCOL': 'HTTP/1.1',
          'REMOTE_ADDR': '127.0.0.1', 'QUERY_STRING': 'url=http://www.site17.example/&url=site42.example&url=new1.example&priority=1'}
REQUEST = (record(1, struct.pack('>HB5x', 1, 0)) + record(4, pairs(PARAMS)) + record(4, b'') + record(5, b''))
END_REQUEST = bytes([1, 3, 0, 1])


def first_answer(bin_path, path):
    env = {'PATH': '/usr/bin:/bin', 'ADRATER_DB': db}
    if listen:
        started = time.perf_counter()
        child = subprocess.Popen([bin_path, 'fcgi', '--listen', path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd='/')
        while True:
            conn = socket.socket(socket.AF_UNIX)
            try:
                conn.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                conn.close()
                if child.poll() is not None:
                    sys.exit(f'{bin_path} exited with {child.returncode}')
                time.sleep(0.0005)
    else:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        listener.listen(16)
        started = time.perf_counter()
        child = subprocess.Popen([bin_path], stdin=listener.fileno(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd='/')
        listener.close()
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(path)
    conn.sendall(REQUEST)
    answer = b''
    while END_REQUEST not in answer:
        chunk = conn.recv(65536)
        if not chunk:
            break
        answer += chunk
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    child.terminate()
    child.wait()
    if b'Status: 200' not in answer:
        sys.exit(f'{bin_path}: not a 200: {answer[:300]!r}')
    return elapsed


times = {b: [] for b in bins}
work = tempfile.mkdtemp()
path = os.path.join(work, 'responder.sock')
try:
    for i in range(runs):
        for b in (bins if i % 2 == 0 else bins[::-1]):
            if os.path.exists(path):
                os.unlink(path)
            times[b].append(first_answer(b, path))
finally:
    if os.path.exists(path):
        os.unlink(path)
    os.rmdir(work)
for b in bins:
    t = sorted(times[b])
    print(f'{b}: median {statistics.median(t):.1f} ms, quartiles {t[len(t) // 4]:.1f}-{t[3 * len(t) // 4]:.1f} ({runs} starts)')
