//go:build !linux

package main

import "syscall"

// childAttr has no parent-death signal outside Linux; cleanups still kill
// children when tests end normally.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
