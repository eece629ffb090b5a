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
