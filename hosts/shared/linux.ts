// Numbers of the Linux ABI that more than one host file uses (socket.h,
// netlink.h, rtnetlink.h, poll.h, errno.h): one copy, as the core keeps its
// own in core/assembly/kernel/linux.ts. The protocol's numbers (IP protocols
// 6 and 17, the control port, option defaults) come from registry.ts.

export const SOL_SOCKET = 1;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const MSG_DONTWAIT = 0x40;
export const POLLIN = 1;

export const AF_INET = 2;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

/** Netlink protocols. */
export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

/** errno values. */
export const EPERM = 1;
export const EACCES = 13;
export const EIO = 5;
export const EAGAIN = 11;
export const ETIMEDOUT = 110;
