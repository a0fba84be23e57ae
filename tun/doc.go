// Package tun is a wire.Link on a Linux TUN device whose kernel side owns one address.
package tun
