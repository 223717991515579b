#!/usr/bin/env -S node --max-semi-space-size=2
// mod_fcgid's entry: bin/adrater (which sees the listening socket on fd 0 and becomes a
// FastCGI responder), with V8's young generation kept at 2 MB: a persistent responder then
// stays near its start-up RSS (about 70 MB rather than 115 after a million requests), for
// some 4% of throughput. V8 takes the flag only on the command line; the CGI path goes
// without it, where it would cost each run ~14 ms.
require('../bin/adrater');
