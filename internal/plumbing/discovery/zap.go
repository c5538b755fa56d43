package discovery

import (
	"slices"

	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// ZapLogger returns a zap logger that writes to log the entries level
// enables (a zapcore.Level, or a zap.AtomicLevel to change it later).
// etcd's client and server log through zap; this puts their lines in the
// same stream and format as ours.
func ZapLogger(log zerolog.Logger, level zapcore.LevelEnabler) *zap.Logger {
	return zap.New(zerologCore{log: log, level: level})
}

// zerologCore is a zapcore.Core over a zerolog logger.
type zerologCore struct {
	log    zerolog.Logger
	level  zapcore.LevelEnabler
	fields []zapcore.Field
}

func (c zerologCore) Enabled(l zapcore.Level) bool { return c.level.Enabled(l) }

func (c zerologCore) With(fields []zapcore.Field) zapcore.Core {
	c.fields = append(slices.Clip(c.fields), fields...)
	return c
}

func (c zerologCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c zerologCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	ev := c.log.WithLevel(zerologLevel(e.Level))
	if e.LoggerName != "" {
		ev = ev.Str("logger", e.LoggerName)
	}
	ev.Fields(enc.Fields).Msg(e.Message)
	return nil
}

func (zerologCore) Sync() error { return nil }

// zerologLevel maps zap's levels; WithLevel never panics or exits, zap
// does that itself after Write for its Panic and Fatal levels.
func zerologLevel(l zapcore.Level) zerolog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return zerolog.DebugLevel
	case l == zapcore.InfoLevel:
		return zerolog.InfoLevel
	case l == zapcore.WarnLevel:
		return zerolog.WarnLevel
	case l <= zapcore.DPanicLevel:
		return zerolog.ErrorLevel
	case l == zapcore.PanicLevel:
		return zerolog.PanicLevel
	}
	return zerolog.FatalLevel
}

// dropMessages wraps a zap core, dropping the entries with one of the
// given messages.
func dropMessages(messages ...string) zap.Option {
	return zap.WrapCore(func(c zapcore.Core) zapcore.Core { return dropFilter{c, messages} })
}

type dropFilter struct {
	zapcore.Core
	messages []string
}

func (f dropFilter) With(fields []zapcore.Field) zapcore.Core {
	return dropFilter{f.Core.With(fields), f.messages}
}

func (f dropFilter) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if slices.Contains(f.messages, e.Message) {
		return ce
	}
	return f.Core.Check(e, ce)
}
