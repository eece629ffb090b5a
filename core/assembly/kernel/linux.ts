// Numbers of the Linux kernel's ABI that the core's netlink messages use
// (linux/netlink.h, rtnetlink.h, if_addr.h, sock_diag.h, errno.h): one place,
// so that no module keeps a copy. The protocol's own numbers (IP protocols
// 6 and 17 among them) come from core/registry.json (generated/registry.ts).

export const AF_INET: u8 = 2;
export const AF_INET6: u8 = 10;

/** Netlink protocols (the socket's protocol argument; OUT_NETLINK's aux). */
export const NETLINK_ROUTE: u32 = 0;
export const NETLINK_SOCK_DIAG: u32 = 4;
export const NETLINK_NETFILTER: u32 = 12;

export const NLMSG_ERROR: u16 = 2;
export const NLMSG_DONE: u16 = 3;
export const NLM_F_REQUEST: u16 = 0x1;
export const NLM_F_ACK: u16 = 0x4;
export const NLM_F_REPLACE: u16 = 0x100;
export const NLM_F_EXCL: u16 = 0x200;
export const NLM_F_DUMP: u16 = 0x300;
export const NLM_F_CREATE: u16 = 0x400;
export const NLA_F_NESTED: u16 = 0x8000;

export const RTM_NEWADDR: u16 = 20;
export const RTM_DELADDR: u16 = 21;
export const RTM_GETADDR: u16 = 22;
export const RTM_NEWROUTE: u16 = 24;
export const RTM_DELROUTE: u16 = 25;
export const RTM_GETROUTE: u16 = 26;
export const RTM_NEWRULE: u16 = 32;
export const RTM_DELRULE: u16 = 33;
export const SOCK_DIAG_BY_FAMILY: u16 = 20;

export const IFA_ADDRESS: u16 = 1;
export const IFA_LOCAL: u16 = 2;
export const IFA_FLAGS: u16 = 8;
export const IFA_CACHEINFO: u16 = 6;
export const IFA_F_NODAD: u32 = 0x02;
export const IFA_F_DADFAILED: u32 = 0x08;
export const IFA_F_TENTATIVE: u32 = 0x40;
export const IFA_F_NOPREFIXROUTE: u32 = 0x200;

/** The loopback interface's index, 1 in every network namespace. */
export const LOOPBACK_IFINDEX: u32 = 1;

/** errno values a netlink acknowledgement carries (negated there). */
export const ENOENT: i32 = 2;
export const ESRCH: i32 = 3;
export const EEXIST: i32 = 17;
export const EADDRNOTAVAIL: i32 = 99;

// Routes, rules, links and neighbours (rtnetlink.h, if_link.h, neighbour.h,
// fib_rules.h), the queue and nftables subsystems (nfnetlink*.h), socket
// states (tcp_states.h).

/** The routing protocol number of our routes and rules (72, 'H'): ours, not the kernel's. */
export const RTPROT_HANDOVER: u8 = 0x48;
export const RT_SCOPE_UNIVERSE: u8 = 0;
export const RTA_OIF: u16 = 4;
export const RTA_GATEWAY: u16 = 5;
export const RTA_PRIORITY: u16 = 6;
export const RTA_TABLE: u16 = 15;
export const RT_TABLE_MAIN: u32 = 254;
export const RTN_UNICAST: u8 = 1;
export const FRA_SRC: u16 = 2;
export const FRA_PRIORITY: u16 = 6;
export const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
export const FRA_TABLE: u16 = 15;
export const FR_ACT_TO_TBL: u8 = 1;
export const RTM_NEWLINK: u16 = 16;
export const RTM_DELLINK: u16 = 17;
export const RTM_NEWNEIGH: u16 = 28;
export const RTM_DELNEIGH: u16 = 29;
export const NLM_F_APPEND: u16 = 0x800;
export const AF_BRIDGE: u8 = 7;
export const IFF_UP: u32 = 1;
export const IFLA_ADDRESS: u16 = 1;
export const IFLA_IFNAME: u16 = 3;
export const IFLA_MTU: u16 = 4;
export const IFLA_LINKINFO: u16 = 18;
export const IFLA_INFO_KIND: u16 = 1;
export const IFLA_INFO_DATA: u16 = 2;
export const IFLA_VXLAN_ID: u16 = 1;
export const IFLA_VXLAN_LOCAL: u16 = 4;
export const IFLA_VXLAN_TTL: u16 = 5;
export const IFLA_VXLAN_TOS: u16 = 6;
export const IFLA_VXLAN_LEARNING: u16 = 7;
export const IFLA_VXLAN_PORT: u16 = 15;
export const IFLA_VXLAN_LOCAL6: u16 = 17;
export const IFLA_VXLAN_UDP_CSUM: u16 = 18;
export const IFLA_VXLAN_DF: u16 = 29;
export const VXLAN_DF_SET: u8 = 1;
/** IFLA_VXLAN_TOS 1 means "inherit the inner TOS" (DSCP and ECN, RFC 6040). */
export const TOS_INHERIT: u8 = 1;
export const NDA_DST: u16 = 1;
export const NDA_LLADDR: u16 = 2;
export const NUD_PERMANENT: u16 = 0x80;
export const NTF_SELF: u8 = 0x02;
export const NTF_PROXY: u8 = 0x08;
export const RTA_DST: u16 = 1;
export const RTNH_F_ONLINK: u32 = 4;
export const RT_SCOPE_LINK: u8 = 253;
export const FRA_FWMARK: u16 = 10;
export const FRA_FWMASK: u16 = 16;
export const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
export const NFNL_MSG_BATCH_END: u16 = 0x11;
export const NFNL_SUBSYS_QUEUE: u16 = 3;
export const NFNL_SUBSYS_NFTABLES: u16 = 10;
export const NFT_MSG_NEWRULE: u16 = 6;
export const NFQNL_MSG_PACKET: u16 = 0;
export const NFQNL_MSG_VERDICT_BATCH: u16 = 3;
export const NFQNL_MSG_CONFIG: u16 = 2;
export const NFPROTO_INET: u8 = 1;
export const NFPROTO_IPV4: u8 = 2;
export const NFPROTO_IPV6: u8 = 10;
export const TCP_LISTEN: u8 = 10;
