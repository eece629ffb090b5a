// What a node has seen, from its events, for `handover status` and the
// Prometheus endpoint: per peer the last authenticated exchange and this
// node's registration with it; migrations by outcome; exchange and blackout
// times. The core's state (moves, counters, drops by reason) completes both.

import type { EngineEvent } from "./engine.ts";

/** Histogram bucket bounds, seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class Histogram {
  counts = BUCKETS.map(() => 0);
  count = 0;
  sum = 0;
  observe(seconds: number): void {
    this.count++;
    this.sum += seconds;
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) this.counts[i]++;
    });
  }
}

export interface PeerActivity {
  /** Time (ms) of the last authenticated exchange with the peer: a reply to us, or a request of its that we accepted. */
  lastExchange?: number;
  /** This node's registration with the peer: accepted until (ms), or why not. */
  registeredUntil?: number;
  registration?: string;
}

/** Events that prove an authenticated message from the peer arrived. */
function isExchange(e: EngineEvent): boolean {
  switch (e.event) {
    case "registration":
      return e.state === "accepted" || e.state === "refused";
    case "migration":
      return e.state === "completed" ? (e.moves as number) > 0 : e.state === "failed" && e.code !== undefined;
    case "peer-migration":
    case "peer-registered":
    case "opaque":
      return true;
    default:
      return false;
  }
}

export class Observations {
  readonly peers = new Map<string, PeerActivity>();
  readonly migrations = new Map<string, number>();
  readonly failures = new Map<string, number>();
  readonly peerMigrations = new Map<string, number>();
  readonly holds = new Map<string, number>();
  readonly exchange = new Histogram();
  readonly blackout = new Histogram();
  /** Migrations in flight: when their request went out (elapsedMs of "requesting"). */
  private requesting = new Map<number, number>();

  peer(cookie: string): PeerActivity {
    let p = this.peers.get(cookie);
    if (!p) this.peers.set(cookie, (p = {}));
    return p;
  }

  observe(e: EngineEvent): void {
    const cookie = typeof e.peer === "string" ? e.peer : undefined;
    if (cookie && isExchange(e)) this.peer(cookie).lastExchange = e.t;
    const elapsed = typeof e.elapsedMs === "number" ? e.elapsedMs : 0;
    switch (e.event) {
      case "registration": {
        const p = this.peer(cookie!);
        p.registration = e.state === "accepted" ? "accepted" : `${e.state} (${e.error ?? e.code})`;
        p.registeredUntil = e.state === "accepted" && typeof e.lifetime === "number" ? e.t + e.lifetime * 1000 : undefined;
        break;
      }
      case "migration": {
        const id = e.id as number;
        if (e.state === "started" && e.hold) bump(this.holds, "migration");
        if (e.state === "requesting") this.requesting.set(id, elapsed);
        // Blackout: the held packets wait from the start until the release (break-before-make only).
        if (e.state === "released" && e.hold) this.blackout.observe(elapsed / 1000);
        if (e.state === "completed" || e.state === "failed") {
          bump(this.migrations, e.state);
          if (e.state === "failed") bump(this.failures, String(e.error ?? "UNKNOWN"));
          const sent = this.requesting.get(id);
          this.requesting.delete(id);
          if (sent !== undefined && (e.state === "completed" || e.code !== undefined)) this.exchange.observe((elapsed - sent) / 1000);
        }
        break;
      }
      case "peer-migration":
        bump(this.peerMigrations, String(e.state));
        break;
      case "sessions-held":
        bump(this.holds, "address-lost");
        break;
    }
  }
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

/** Escapes a label value (text exposition format). */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** The Prometheus text exposition (version 0.0.4) of a node: its observations and the core's state. */
export function renderMetrics(node: string, obs: Observations, state: Record<string, any>, now: number): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries({ node, ...labels }).map(([k, v]) => `${k}="${label(v)}"`).join(",");
      out.push(`${name}{${l}} ${value}`);
    }
  };
  const fromMap = (m: Map<string, number>, key: string, all: string[] = []): [Record<string, string>, number][] => {
    const keys = new Set([...all, ...m.keys()]);
    return [...keys].map((k) => [{ [key]: k }, m.get(k) ?? 0]);
  };
  const histogram = (name: string, help: string, h: Histogram) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    const n = `node="${label(node)}"`;
    BUCKETS.forEach((b, i) => out.push(`${name}_bucket{${n},le="${b}"} ${h.counts[i]}`));
    out.push(`${name}_bucket{${n},le="+Inf"} ${h.count}`, `${name}_sum{${n}} ${h.sum}`, `${name}_count{${n}} ${h.count}`);
  };
  const c = state.counters ?? {};
  const moves = (state.moves ?? []) as Record<string, unknown>[];
  const peers = (state.peers ?? []) as Record<string, unknown>[];
  metric("handover_migrations_total", "counter", "Migrations this node asked for, by outcome.", fromMap(obs.migrations, "outcome", ["completed", "failed"]));
  metric("handover_migration_failures_total", "counter", "Failed migrations by error (TIMED_OUT: no authenticated reply; REFUSED: the peer said no).", fromMap(obs.failures, "error"));
  metric("handover_peer_migrations_total", "counter", "Migrations peers made towards this node, by state.", fromMap(obs.peerMigrations, "state"));
  histogram("handover_migration_exchange_seconds", "Request to authenticated reply, per migration that got one.", obs.exchange);
  histogram("handover_migration_blackout_seconds", "How long a break-before-make migration held its sessions' packets (start to release).", obs.blackout);
  metric("handover_dropped_total", "counter", "Control messages dropped, by reason (BAD_AUTHENTICATOR: wrong key; UNKNOWN_SPI: no such SA).",
    Object.entries((c.droppedBy ?? {}) as Record<string, number>).map(([k, v]) => [{ reason: k }, v]));
  metric("handover_holds_total", "counter", "Times sessions were held: by a migration, or when their address left the host.", fromMap(obs.holds, "cause", ["migration", "address-lost"]));
  metric("handover_moves", "gauge", "Sessions' moves in force (rewrite rules), by side and held state.", [
    [{ side: "local", held: "false" }, moves.filter((m) => m.side === "local" && !m.held).length],
    [{ side: "local", held: "true" }, moves.filter((m) => m.side === "local" && m.held).length],
    [{ side: "peer", held: "false" }, moves.filter((m) => m.side === "peer").length],
  ]);
  metric("handover_peers", "gauge", "Configured peers.", [[{}, peers.length]]);
  metric("handover_peers_registered", "gauge", "Peers this node holds an accepted registration with.", [
    [{}, peers.filter((p) => (obs.peers.get(String(p.cookie))?.registeredUntil ?? 0) > now).length],
  ]);
  metric("handover_messages_total", "counter", "Control messages, by direction.", [
    [{ direction: "received" }, c.received ?? 0],
    [{ direction: "sent" }, c.sent ?? 0],
    [{ direction: "retransmitted" }, c.retransmitted ?? 0],
  ]);
  metric("handover_kernel_actions_total", "counter", "Kernel actions (nft batches, netlink requests) carried out.", [[{}, c.kernelActions ?? 0]]);
  metric("handover_kernel_failures_total", "counter", "Kernel actions that failed.", [[{}, c.kernelFailures ?? 0]]);
  return out.join("\n") + "\n";
}
