package transport

// StrangerBurst is the handshakes a stranger's address is let make
// before its pace (strangers.go).
const StrangerBurst = strangerBurst
