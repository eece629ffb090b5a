// `handover status`: a node's state for a person, in the spirit of `wg show`
// (peers by name, last exchange, moves, counters), and the same as JSON.

/** Linux's TCP states (include/net/tcp_states.h); a UDP socket is ESTABLISHED (connected) or CLOSE. */
const SOCKET_STATES = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"];

export function socketStateName(state: unknown): string {
  return typeof state === "number" ? SOCKET_STATES[state] || `state ${state}` : String(state);
}

export interface StatusPeer {
  name: string;
  cookie: string;
  control: string;
  port: number;
  owned: string[];
  rttMs: number;
  /** Seconds since the last authenticated exchange, if there was one. */
  lastExchangeS?: number;
  /** This node's registration with the peer: "accepted", "failed (TIMED_OUT)", ... */
  registration?: string;
  /** Seconds it has left. */
  registeredForS?: number;
  /** The peer holds a registration with this node. */
  peerRegistered: boolean;
}

export interface StatusMove {
  side: "local" | "peer";
  peer: string;
  protocols: string;
  from: string;
  to: string;
  held: boolean;
  validated: boolean;
}

export interface Status {
  name: string;
  cookie: string;
  port: number;
  peers: StatusPeer[];
  moves: StatusMove[];
  migrationsInFlight: number;
  counters: Record<string, number>;
  droppedBy: Record<string, number>;
  sessions: { protocol: string; state: string; local: string; remote: string; move?: number; wire?: string }[];
}

const endpoint = (address: unknown, port: unknown) => {
  const a = String(address);
  const p = Number(port) ? `:${port}` : ":*";
  return a.includes(":") ? `[${a}]${p}` : `${a}${p}`;
};

function protocolNames(bits: number): string {
  return bits === 0 ? "TCP+UDP" : [bits & 1 ? "TCP" : "", bits & 2 ? "UDP" : ""].filter(Boolean).join("+");
}

/** Builds the status from the core's state, the node's observations (by peer cookie) and its sessions. */
export function buildStatus(
  node: { name: string; cookie: string; port: number },
  state: Record<string, any>,
  activity: (cookie: string) => { lastExchange?: number; registeredUntil?: number; registration?: string },
  names: (cookie: string) => string,
  sessions: Record<string, unknown>[],
  now: number,
): Status {
  const seconds = (ms: number) => Math.round(ms / 100) / 10;
  const { droppedBy = {}, ...counters } = state.counters ?? {};
  return {
    ...node,
    peers: (state.peers ?? []).map((p: Record<string, any>): StatusPeer => {
      const a = activity(p.cookie);
      const left = a.registeredUntil !== undefined ? a.registeredUntil - now : 0;
      return {
        name: names(p.cookie),
        cookie: p.cookie,
        control: p.control,
        port: p.port,
        owned: p.owned,
        rttMs: p.rttMs,
        ...(a.lastExchange !== undefined ? { lastExchangeS: seconds(now - a.lastExchange) } : {}),
        ...(a.registration ? { registration: left > 0 || a.registration !== "accepted" ? a.registration : "expired" } : {}),
        ...(left > 0 ? { registeredForS: seconds(left) } : {}),
        peerRegistered: p.peerRegistered === true,
      };
    }),
    moves: (state.moves ?? []).map((m: Record<string, any>): StatusMove => ({
      side: m.side,
      peer: names(m.peer),
      protocols: protocolNames(m.protocols),
      from: endpoint(m.original, m.originalPort),
      to: endpoint(m.wire, m.wirePort),
      held: m.held,
      validated: m.validated,
    })),
    migrationsInFlight: state.migrations ?? 0,
    counters,
    droppedBy,
    sessions: sessions.map((s) => ({
      protocol: String(s.protocol),
      state: socketStateName(s.state),
      local: endpoint(s.local, s.localPort),
      remote: endpoint(s.remote, s.remotePort),
      ...(s.move !== undefined ? { move: s.move as number, wire: String(s.wire) } : {}),
    })),
  };
}

function ago(s: number): string {
  if (s < 60) return `${s} seconds ago`;
  if (s < 3600) return `${Math.floor(s / 60)} minutes, ${Math.round(s % 60)} seconds ago`;
  return `${Math.floor(s / 3600)} hours, ${Math.floor((s % 3600) / 60)} minutes ago`;
}

/** The status as text, like `wg show`. */
export function formatStatus(s: Status): string {
  const lines = [`node: ${s.name}`, `  cookie: ${s.cookie}`, `  control port: ${s.port}`];
  for (const p of s.peers) {
    lines.push("", `peer: ${p.name}`);
    if (p.name !== p.cookie) lines.push(`  cookie: ${p.cookie}`);
    lines.push(`  control: ${endpoint(p.control, p.port)}`);
    if (p.owned.length) lines.push(`  owned addresses: ${p.owned.join(", ")}`);
    lines.push(`  last exchange: ${p.lastExchangeS !== undefined ? ago(p.lastExchangeS) : "none since start"}`);
    if (p.rttMs) lines.push(`  round trip: ${p.rttMs} ms`);
    lines.push(`  registered with it: ${p.registeredForS !== undefined ? `yes, ${p.registeredForS} s left` : p.registration ?? "no"}`);
    lines.push(`  registered with us: ${p.peerRegistered ? "yes" : "no"}`);
  }
  if (s.moves.length) {
    lines.push("", "moves:");
    for (const m of s.moves) {
      const how = [m.held ? "held" : "", m.validated ? "validated" : "not yet validated"].filter(Boolean).join(", ");
      lines.push(`  ${m.side === "local" ? "ours" : "peer's"} with ${m.peer}: ${m.from} -> ${m.to} ${m.protocols} (${how})`);
    }
  }
  if (s.migrationsInFlight) lines.push("", `migrations in flight: ${s.migrationsInFlight}`);
  const c = s.counters;
  lines.push("", "messages:", `  received ${c.received ?? 0}, sent ${c.sent ?? 0}, retransmitted ${c.retransmitted ?? 0}, duplicates ${c.duplicates ?? 0}`);
  lines.push(`  kernel actions ${c.kernelActions ?? 0}, failed ${c.kernelFailures ?? 0}`);
  const drops = Object.entries(s.droppedBy);
  lines.push(`  dropped ${c.dropped ?? 0}${drops.length ? ": " + drops.map(([k, v]) => `${k} ${v}`).join(", ") : ""}`);
  if (s.droppedBy.BAD_AUTHENTICATOR || s.droppedBy.UNKNOWN_SPI) {
    lines.push("  (BAD_AUTHENTICATOR / UNKNOWN_SPI: a peer's messages fail authentication: check that both ends have the same key and SPI)");
  }
  if (s.sessions.length) {
    lines.push("", "sessions:");
    for (const x of s.sessions) lines.push(`  ${x.protocol} ${x.local} <-> ${x.remote} ${x.state}${x.move !== undefined ? ` (move ${x.move}, on the wire as ${x.wire})` : ""}`);
  }
  return lines.join("\n");
}
