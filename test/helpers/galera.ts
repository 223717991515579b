// Test beds for CONTRACT §8 on one machine: a 3-node MariaDB Galera cluster (Debian's
// galera-4; own datadirs, ports and sockets; gcomm on 127.0.0.1; the first node started with
// --wsrep-new-cluster, the others joining by rsync SST) and a primary with an asynchronous
// replica. Each is started by the test that needs it and destroyed by it.
import { existsSync } from 'node:fs';
import { privateMariadb } from './mariadb.js';
import type { PrivateMariadb } from './mariadb.js';
import { freePort } from './servers.js';

export const GALERA_PROVIDER = ['/usr/lib/galera/libgalera_smm.so', '/usr/lib/libgalera_smm.so'].find((p) => existsSync(p));

export interface Cluster {
  nodes: PrivateMariadb[];
  /** A URL listing the nodes in this order (default: all, first to last). */
  url(db: string, order?: number[]): string;
  destroy(): Promise<void>;
}

/** Whether a node is a synced member of a primary component (it takes writes). */
export async function synced(node: PrivateMariadb): Promise<boolean> {
  const rows = await node.sql("SHOW STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_status')");
  const status = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
  return status.wsrep_ready === 'ON' && status.wsrep_local_state_comment === 'Synced' && status.wsrep_cluster_status === 'Primary';
}

export async function galeraCluster(size = 3): Promise<Cluster> {
  if (!GALERA_PROVIDER) throw new Error('galera-4 is not installed (libgalera_smm.so)');
  const ports = await Promise.all(Array.from({ length: size * 4 }, () => freePort()));
  const sqlPort = (i: number) => ports[i * 4];
  const gcomm = Array.from({ length: size }, (_, i) => `127.0.0.1:${ports[i * 4 + 1]}`);
  // Installed one after another (each in its own directories, tmpdir included).
  const nodes: PrivateMariadb[] = [];
  for (let i = 0; i < size; i++) {
    nodes.push(
      await privateMariadb({
        port: sqlPort(i),
        start: false,
        ready: synced,
        // As packaged MariaDB runs: as root, the joiner's rsync daemon (SST) would drop to nobody.
        user: 'mysql',
        args: () => [
          '--binlog-format=ROW', '--innodb-autoinc-lock-mode=2', '--default-storage-engine=InnoDB',
          '--wsrep-on=ON', `--wsrep-provider=${GALERA_PROVIDER}`, '--wsrep-cluster-name=adrater_test',
          `--wsrep-cluster-address=gcomm://${gcomm.join(',')}`, `--wsrep-node-address=${gcomm[i]}`, `--wsrep-node-name=node${i + 1}`,
          '--wsrep-sst-method=rsync', `--wsrep-sst-receive-address=127.0.0.1:${ports[i * 4 + 2]}`,
          // A dead node is noticed in about a second (the default blocks commits ~6 s), and a
          // certification conflict reaches the client (which retries it) instead of the server.
          `--wsrep-provider-options=gmcast.listen_addr=tcp://${gcomm[i]};ist.recv_addr=127.0.0.1:${ports[i * 4 + 3]};evs.keepalive_period=PT0.3S;evs.inactive_check_period=PT0.3S;evs.join_retrans_period=PT0.3S;evs.suspect_timeout=PT1S;evs.inactive_timeout=PT3S;evs.install_timeout=PT3S;gcache.size=32M`,
          '--wsrep-retry-autocommit=0', '--wsrep-slave-threads=2',
          // As Galera's documentation asks of every table: adrater's own must have a key.
          '--wsrep-mode=REQUIRED_PRIMARY_KEY',
        ],
      }),
    );
  }
  const destroy = () => Promise.all(nodes.map((n) => n.destroy())).then(() => undefined);
  try {
    await nodes[0].start(['--wsrep-new-cluster']);
    for (const node of nodes.slice(1)) await node.start();
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    nodes,
    url: (db, order = nodes.map((_, i) => i)) => `mysql://root@${order.map((i) => `127.0.0.1:${nodes[i].port}`).join(',')}/${db}`,
    destroy,
  };
}

export interface Replicated {
  primary: PrivateMariadb;
  replica: PrivateMariadb;
  destroy(): Promise<void>;
}

/** A primary (binary log on) and a replica following it, both empty and replicating. */
export async function primaryAndReplica(): Promise<Replicated> {
  const primary = await privateMariadb({ args: () => ['--server-id=1', '--log-bin=primary-bin', '--binlog-format=ROW'] });
  const replica = await privateMariadb({ args: () => ['--server-id=2', '--skip-log-bin', '--read-only=ON'] });
  await replica.sql(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=current_pos`);
  await replica.sql('START SLAVE');
  return { primary, replica, destroy: () => Promise.all([primary.destroy(), replica.destroy()]).then(() => undefined) };
}
