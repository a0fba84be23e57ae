// Package rstfilter stops the Linux kernel from answering a userspace TCP
// stack's segments with RSTs.
//
// A userspace stack that shares the host's IP address on a raw interface
// (AF_PACKET) receives its segments, but so does the kernel, which has no
// socket for them and answers each one with a RST that tears the
// userspace connection down. The article tcplab grew from drops them with
// `iptables -A OUTPUT -p tcp --tcp-flags RST RST -j DROP`, for every port
// and until someone remembers to delete it. Install does the same with one
// nftables table of its own, narrowed to the stack's address and ports:
//
//	table ip tcplab_rst_<pid>_<rand> {
//		chain output {
//			type filter hook output priority filter; policy accept;
//			ip saddr ADDR tcp sport PORT tcp flags rst counter drop
//		}
//	}
//
// The table carries the owner flag (NFT_TABLE_F_OWNER, Linux >= 5.12): the
// kernel deletes it when the netlink socket that created it closes, and the
// Filter keeps that socket open for its whole life. So the table goes with
// the process on every exit path, Remove, a return from main, SIGINT,
// a panic, SIGKILL, without signal handlers. On a kernel that refuses the
// flag, Install falls back to an ordinary table (Filter.Owned reports
// false) whose name carries the pid, and Sweep removes such tables left
// behind by dead processes.
package rstfilter
