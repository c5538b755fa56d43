// Package banktest is test plumbing: a CA and certificates in a temporary
// directory, banks started in-process on 127.0.0.1:0, mutual-TLS client
// connections as any role, and Strife programs built once (RunWithBinary,
// RunWithFailpoints) and run as child processes (Cmd).
package banktest
