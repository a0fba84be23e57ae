// Package netns runs code inside unnamed Linux network namespaces, for
// tests and runs that build devices (TUN, veth) and must leave nothing
// behind.
//
// A Namespace is one OS thread, locked for its whole life, that called
// unshare(CLONE_NEWNET). Nothing names the namespace: it disappears when
// its thread exits and its last device and socket are closed, so even a
// test binary killed by SIGKILL leaves no namespace behind (an
// `ip netns add` namespace is bind-mounted and would survive).
//
// Sockets and devices opened on the namespace's thread stay in the
// namespace after the function returns; goroutines started from it do
// not (they run on other threads, in the namespace the process started in).
package netns
