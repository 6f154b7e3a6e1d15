package server

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/assent-auth/assent/internal/mail"
)

// WatchMail exports the e-mail queue: assent_mail_messages_total{result=
// "sent|failed|retried|dropped"} and assent_mail_queue_length.
func (m *Metrics) WatchMail(q *mail.Queue) {
	st := &q.Stats
	for result, c := range map[string]*atomic.Uint64{"sent": &st.Sent, "failed": &st.Failed, "retried": &st.Retried, "dropped": &st.Dropped} {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "assent", Name: "mail_messages_total",
			Help: "E-mail to users: sent (accepted by the SMTP server), failed (given up after every attempt, or refused for good), " +
				"retried (attempts that failed and were tried again), dropped (the queue was full).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(c.Load()) }))
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "assent", Name: "mail_queue_length",
		Help: "E-mail messages waiting to be sent.",
	}, func() float64 { return float64(q.Len()) }))
}

// checkMailTemplates loads mail_templates_dir again on SIGHUP (its files
// may have changed though the key did not): problems lists every broken
// file, else apply puts the new templates in use.
func (s *Server) checkMailTemplates(dir string) (apply func(), problems []string) {
	if s.app.Mail == nil {
		return func() {}, nil
	}
	t, err := mail.LoadTemplates(dir)
	var ps mail.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			problems = append(problems, "mail_templates_dir: "+p.String())
		}
		return nil, problems
	}
	if err != nil {
		return nil, []string{"mail_templates_dir: " + err.Error()}
	}
	return func() {
		s.app.Mail.SetTemplates(t)
		s.log.Info("mail templates loaded", "dir", dir, "overridden", t.Overridden)
	}, nil
}
