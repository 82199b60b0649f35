package sqsfake

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type handler func(s *Server, r *http.Request) (any, error)

var handlers = map[string]handler{
	"CreateQueue":                  (*Server).createQueue,
	"GetQueueUrl":                  (*Server).getQueueURL,
	"ListQueues":                   (*Server).listQueues,
	"GetQueueAttributes":           (*Server).getQueueAttributes,
	"DeleteQueue":                  (*Server).deleteQueue,
	"PurgeQueue":                   (*Server).purgeQueue,
	"SendMessage":                  (*Server).sendMessage,
	"SendMessageBatch":             (*Server).sendMessageBatch,
	"ReceiveMessage":               (*Server).receiveMessage,
	"DeleteMessage":                (*Server).deleteMessage,
	"DeleteMessageBatch":           (*Server).deleteMessageBatch,
	"ChangeMessageVisibility":      (*Server).changeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Server).changeMessageVisibilityBatch,
}

type empty struct{}

// ---- queues ----

func (s *Server) createQueue(r *http.Request) (any, error) {
	var in struct {
		QueueName  string
		Attributes map[string]string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, errMissingParameter("QueueName")
	}
	if strings.HasSuffix(in.QueueName, ".fifo") || in.Attributes["FifoQueue"] == "true" {
		return nil, errUnsupported("FIFO queues")
	}
	if !validQueueName(in.QueueName) {
		return nil, errInvalidParameterValue("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (got %q).", in.QueueName)
	}
	for k, v := range in.Attributes {
		spec, ok := settableAttrs[k]
		if !ok {
			return nil, errInvalidAttributeName(k)
		}
		if spec.numeric {
			n, err := strconv.Atoi(v)
			if err != nil || n < spec.min || n > spec.max {
				return nil, errInvalidAttributeValue("Invalid value for the parameter %s: %q is not an integer from %d to %d.", k, v, spec.min, spec.max)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[in.QueueName]; q != nil {
		for k, v := range in.Attributes {
			cur, ok := q.attrs[k]
			if !ok {
				cur = settableAttrs[k].def
			}
			if cur != v {
				return nil, errQueueNameExists(in.QueueName)
			}
		}
		return map[string]string{"QueueUrl": s.QueueURL(in.QueueName)}, nil
	}
	attrs := map[string]string{}
	for k, v := range in.Attributes {
		attrs[k] = v
	}
	s.queues[in.QueueName] = newQueue(in.QueueName, attrs, time.Now())
	return map[string]string{"QueueUrl": s.QueueURL(in.QueueName)}, nil
}

func (s *Server) getQueueURL(r *http.Request) (any, error) {
	var in struct{ QueueName string }
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[in.QueueName] == nil {
		return nil, errQueueDoesNotExist()
	}
	return map[string]string{"QueueUrl": s.QueueURL(in.QueueName)}, nil
}

func (s *Server) listQueues(r *http.Request) (any, error) {
	var in struct {
		QueueNamePrefix string
		MaxResults      int
		NextToken       string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, errInvalidParameterValue("Value %d for parameter MaxResults is invalid. Reason: must be between 1 and 1000.", in.MaxResults)
	}
	s.mu.Lock()
	names := sortedKeys(s.queues)
	s.mu.Unlock()
	out := struct {
		QueueUrls []string `json:"QueueUrls,omitempty"`
		NextToken string   `json:"NextToken,omitempty"`
	}{}
	limit := 1000
	if in.MaxResults > 0 {
		limit = in.MaxResults
	}
	last := ""
	for _, n := range names {
		if !strings.HasPrefix(n, in.QueueNamePrefix) || (in.NextToken != "" && n <= in.NextToken) {
			continue
		}
		if len(out.QueueUrls) == limit {
			if in.MaxResults > 0 { // SQS pages only when MaxResults is given
				out.NextToken = last // the fake's token: the last name returned
			}
			break
		}
		out.QueueUrls = append(out.QueueUrls, s.QueueURL(n))
		last = n
	}
	return out, nil
}

func (s *Server) getQueueAttributes(r *http.Request) (any, error) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	q.expire(now)
	all := map[string]string{}
	for k, spec := range settableAttrs {
		if v, ok := q.attrs[k]; ok {
			all[k] = v
		} else if spec.def != "" {
			all[k] = spec.def
		}
	}
	var visible, inFlight, delayed int
	for _, m := range q.messages {
		switch {
		case m.delayed(now):
			delayed++
		case m.inFlight(now):
			inFlight++
		default:
			visible++
		}
	}
	all["ApproximateNumberOfMessages"] = strconv.Itoa(visible)
	all["ApproximateNumberOfMessagesNotVisible"] = strconv.Itoa(inFlight)
	all["ApproximateNumberOfMessagesDelayed"] = strconv.Itoa(delayed)
	all["CreatedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
	all["LastModifiedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
	all["QueueArn"] = s.QueueARN(q.name)

	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if _, ok := settableAttrs[n]; !ok && !readOnlyAttrs[n] {
			return nil, errInvalidAttributeName(n)
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	if len(out) == 0 {
		return empty{}, nil
	}
	return map[string]any{"Attributes": out}, nil
}

func (s *Server) deleteQueue(r *http.Request) (any, error) {
	var in struct{ QueueUrl string }
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.deleted = true
	q.notify()
	delete(s.queues, q.name)
	return empty{}, nil
}

// purgeQueue deletes every message at once. (SQS allows one purge per 60 s
// and may take that long; the fake neither limits nor delays.)
func (s *Server) purgeQueue(r *http.Request) (any, error) {
	var in struct{ QueueUrl string }
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	q.messages = nil
	q.byID = map[string]*message{}
	return empty{}, nil
}

// ---- send ----

type sendEntry struct {
	Id                      string
	MessageBody             string
	DelaySeconds            *int
	MessageAttributes       map[string]AttributeValue
	MessageSystemAttributes map[string]AttributeValue
	MessageGroupId          string
	MessageDeduplicationId  string
}

type sendResult struct {
	Id                           string `json:",omitempty"`
	MessageId                    string
	MD5OfMessageBody             string
	MD5OfMessageAttributes       string `json:",omitempty"`
	MD5OfMessageSystemAttributes string `json:",omitempty"`
}

type batchFailure struct {
	Id          string
	SenderFault bool
	Code        string
	Message     string
}

// prepare validates one message and builds it, without storing it.
func (q *queue) prepare(e sendEntry, now time.Time) (*message, error) {
	if e.MessageBody == "" {
		return nil, errMissingParameter("MessageBody")
	}
	if e.MessageGroupId != "" || e.MessageDeduplicationId != "" {
		return nil, errInvalidParameterValue("The request include parameter that is not valid for this queue type (MessageGroupId/MessageDeduplicationId on a standard queue is not supported by sqsfake).")
	}
	if !validBody(e.MessageBody) {
		return nil, errInvalidMessageContents()
	}
	if err := validateAttrs(e.MessageAttributes); err != nil {
		return nil, err
	}
	for k := range e.MessageSystemAttributes {
		if k != "AWSTraceHeader" {
			return nil, errInvalidParameterValue("Message system attribute name '%s' is invalid.", k)
		}
	}
	limit := q.intAttr("MaximumMessageSize")
	if size := messageSize(e.MessageBody, e.MessageAttributes); size > limit {
		return nil, errInvalidParameterValue("One or more parameters are invalid. Reason: Message must be shorter than %d bytes (this one is %d bytes: body plus attribute names, types and values).", limit, size)
	}
	delay := q.intAttr("DelaySeconds")
	if e.DelaySeconds != nil {
		if *e.DelaySeconds < 0 || *e.DelaySeconds > 900 {
			return nil, errInvalidParameterValue("Value %d for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.", *e.DelaySeconds)
		}
		delay = *e.DelaySeconds
	}
	m := &message{
		id:       newID(),
		body:     e.MessageBody,
		md5Body:  md5Hex(e.MessageBody),
		attrs:    cloneAttrs(e.MessageAttributes),
		sysAttrs: cloneAttrs(e.MessageSystemAttributes),
		sent:     now,
	}
	m.delayUntil = now.Add(time.Duration(delay) * time.Second)
	m.visibleAt = m.delayUntil
	return m, nil
}

func (m *message) sendResult(id string) sendResult {
	return sendResult{
		Id:                           id,
		MessageId:                    m.id,
		MD5OfMessageBody:             m.md5Body,
		MD5OfMessageAttributes:       md5OfAttributes(m.attrs),
		MD5OfMessageSystemAttributes: md5OfAttributes(m.sysAttrs),
	}
}

func (s *Server) sendMessage(r *http.Request) (any, error) {
	var in struct {
		QueueUrl string
		sendEntry
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	m, err := q.prepare(in.sendEntry, time.Now())
	if err != nil {
		return nil, err
	}
	q.add(m)
	return m.sendResult(""), nil
}

func checkBatch[E any](entries []E, id func(E) string) error {
	if len(entries) == 0 {
		return errEmptyBatch()
	}
	if len(entries) > 10 {
		return errTooManyEntries(len(entries))
	}
	seen := map[string]bool{}
	for _, e := range entries {
		i := id(e)
		if !validBatchID(i) {
			return errInvalidBatchEntryID(i)
		}
		if seen[i] {
			return errBatchIDsNotDistinct(i)
		}
		seen[i] = true
	}
	return nil
}

func entryFailure(id string, err error) batchFailure {
	f, ok := err.(Failure)
	if !ok {
		f = InternalError
	}
	return batchFailure{Id: id, SenderFault: f.Sender, Code: f.code(), Message: f.Message}
}

func (s *Server) sendMessageBatch(r *http.Request) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []sendEntry
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if err := checkBatch(in.Entries, func(e sendEntry) string { return e.Id }); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, e := range in.Entries {
		total += messageSize(e.MessageBody, e.MessageAttributes)
	}
	if limit := q.intAttr("MaximumMessageSize"); total > limit {
		return nil, errBatchRequestTooLong(total, limit)
	}
	out := struct {
		Successful []sendResult
		Failed     []batchFailure
	}{Successful: []sendResult{}, Failed: []batchFailure{}}
	now := time.Now()
	for _, e := range in.Entries {
		if f, ok := s.takeEntryFailure("SendMessageBatch"); ok {
			out.Failed = append(out.Failed, entryFailure(e.Id, f))
			continue
		}
		m, err := q.prepare(e, now)
		if err != nil {
			out.Failed = append(out.Failed, entryFailure(e.Id, err))
			continue
		}
		q.add(m)
		out.Successful = append(out.Successful, m.sendResult(e.Id))
	}
	return out, nil
}

// ---- receive ----

type receivedMessage struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string         `json:",omitempty"`
	MD5OfMessageAttributes string                    `json:",omitempty"`
	MessageAttributes      map[string]AttributeValue `json:",omitempty"`
}

func (s *Server) receiveMessage(r *http.Request) (any, error) {
	var in struct {
		QueueUrl                    string
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
		ReceiveRequestAttemptId     string
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
		if max < 1 || max > 10 {
			return nil, errInvalidParameterValue("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max)
		}
	}
	if in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200) {
		return nil, errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *in.VisibilityTimeout)
	}
	if in.WaitTimeSeconds != nil && (*in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > 20) {
		return nil, errInvalidParameterValue("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
	}
	sysNames := append(append([]string(nil), in.AttributeNames...), in.MessageSystemAttributeNames...)

	start := time.Now()
	var deadline time.Time
	for {
		s.mu.Lock()
		q, err := s.queueFromURL(in.QueueUrl)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if deadline.IsZero() {
			wait := q.intAttr("ReceiveMessageWaitTimeSeconds")
			if in.WaitTimeSeconds != nil {
				wait = *in.WaitTimeSeconds
			}
			deadline = start.Add(time.Duration(wait) * time.Second)
		}
		vis := q.visibility()
		if in.VisibilityTimeout != nil {
			vis = time.Duration(*in.VisibilityTimeout) * time.Second
		}
		now := time.Now()
		q.expire(now)
		var got []receivedMessage
		for _, m := range q.messages {
			if len(got) == max {
				break
			}
			if !m.receivable(now) {
				continue
			}
			m.receiveCount++
			if m.firstReceive.IsZero() {
				m.firstReceive = now
			}
			m.handle = s.newReceiptHandle(q.name, m.id)
			m.visibleAt = now.Add(vis)
			got = append(got, s.received(m, sysNames, in.MessageAttributeNames))
		}
		if len(got) > 0 || !now.Before(deadline) {
			s.mu.Unlock()
			if got == nil {
				return empty{}, nil
			}
			return map[string]any{"Messages": got}, nil
		}
		wake := q.wake
		wakeAt := deadline
		if next := q.nextVisible(now); !next.IsZero() && next.Before(wakeAt) {
			wakeAt = next
		}
		s.mu.Unlock()

		timer := time.NewTimer(time.Until(wakeAt))
		select {
		case <-wake:
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return empty{}, nil
		case <-s.closing:
			timer.Stop()
			return empty{}, nil
		}
		timer.Stop()
	}
}

// received builds the answer for one message. The caller holds s.mu.
func (s *Server) received(m *message, sysNames, attrNames []string) receivedMessage {
	out := receivedMessage{MessageId: m.id, ReceiptHandle: m.handle, MD5OfBody: m.md5Body, Body: m.body}
	if len(sysNames) > 0 {
		all := map[string]string{
			"SenderId":                         s.opts.AccountID,
			"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
			"ApproximateReceiveCount":          strconv.Itoa(m.receiveCount),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
		}
		if v, ok := m.sysAttrs["AWSTraceHeader"]; ok && v.StringValue != nil {
			all["AWSTraceHeader"] = *v.StringValue
		}
		out.Attributes = map[string]string{}
		for _, n := range sysNames {
			if n == "All" {
				out.Attributes = all
				break
			}
			if v, ok := all[n]; ok {
				out.Attributes[n] = v
			}
		}
		if len(out.Attributes) == 0 {
			out.Attributes = nil
		}
	}
	if sel := selectAttrs(m.attrs, attrNames); sel != nil {
		out.MessageAttributes = sel
		out.MD5OfMessageAttributes = md5OfAttributes(sel)
	}
	return out
}

// Receipt handles encode the queue and message they belong to plus a nonce, so
// a handle from an earlier receive of the same message is recognisably stale.
const handlePrefix = "sqsfake1:"

func (s *Server) newReceiptHandle(queueName, messageID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(handlePrefix + queueName + ":" + messageID + ":" + newID()))
}

// parseReceiptHandle returns the message id a handle names.
func parseReceiptHandle(queueName, h string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || !strings.HasPrefix(string(raw), handlePrefix) {
		return "", errReceiptHandleIsInvalid(h)
	}
	parts := strings.Split(strings.TrimPrefix(string(raw), handlePrefix), ":")
	if len(parts) != 3 || parts[0] != queueName {
		return "", errReceiptHandleIsInvalid(h)
	}
	return parts[1], nil
}

// ---- delete and visibility ----

// deleteByHandle deletes the message h names. As in SQS, deleting an already
// deleted message succeeds; a stale handle (the message was received again
// since) succeeds without deleting, which SQS documents as "might not be
// deleted" — the fake makes it deterministic so tests catch the bug.
func (q *queue) deleteByHandle(h string) error {
	id, err := parseReceiptHandle(q.name, h)
	if err != nil {
		return err
	}
	m := q.byID[id]
	if m == nil || m.handle != h {
		return nil
	}
	q.remove(m)
	return nil
}

func (q *queue) changeVisibility(h string, timeout *int, now time.Time) error {
	if timeout == nil {
		return errMissingParameter("VisibilityTimeout")
	}
	if *timeout < 0 || *timeout > 43200 {
		return errInvalidParameterValue("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", *timeout)
	}
	id, err := parseReceiptHandle(q.name, h)
	if err != nil {
		return err
	}
	m := q.byID[id]
	if m == nil || !m.inFlight(now) {
		return errMessageNotInflight()
	}
	if m.handle != h {
		return errReceiptHandleIsInvalid(h)
	}
	m.visibleAt = now.Add(time.Duration(*timeout) * time.Second)
	if *timeout == 0 {
		q.notify()
	}
	return nil
}

func (s *Server) deleteMessage(r *http.Request) (any, error) {
	var in struct{ QueueUrl, ReceiptHandle string }
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, errMissingParameter("ReceiptHandle")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := q.deleteByHandle(in.ReceiptHandle); err != nil {
		return nil, err
	}
	return empty{}, nil
}

type handleEntry struct {
	Id                string
	ReceiptHandle     string
	VisibilityTimeout *int
}

type batchResult struct {
	Successful []map[string]string
	Failed     []batchFailure
}

func (s *Server) handleBatch(r *http.Request, op string, apply func(q *queue, e handleEntry, now time.Time) error) (any, error) {
	var in struct {
		QueueUrl string
		Entries  []handleEntry
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if err := checkBatch(in.Entries, func(e handleEntry) string { return e.Id }); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	out := batchResult{Successful: []map[string]string{}, Failed: []batchFailure{}}
	now := time.Now()
	for _, e := range in.Entries {
		if f, ok := s.takeEntryFailure(op); ok {
			out.Failed = append(out.Failed, entryFailure(e.Id, f))
			continue
		}
		if err := apply(q, e, now); err != nil {
			out.Failed = append(out.Failed, entryFailure(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, map[string]string{"Id": e.Id})
	}
	return out, nil
}

func (s *Server) deleteMessageBatch(r *http.Request) (any, error) {
	return s.handleBatch(r, "DeleteMessageBatch", func(q *queue, e handleEntry, _ time.Time) error {
		return q.deleteByHandle(e.ReceiptHandle)
	})
}

func (s *Server) changeMessageVisibility(r *http.Request) (any, error) {
	var in struct {
		QueueUrl          string
		ReceiptHandle     string
		VisibilityTimeout *int
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if err := q.changeVisibility(in.ReceiptHandle, in.VisibilityTimeout, time.Now()); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (s *Server) changeMessageVisibilityBatch(r *http.Request) (any, error) {
	return s.handleBatch(r, "ChangeMessageVisibilityBatch", func(q *queue, e handleEntry, now time.Time) error {
		return q.changeVisibility(e.ReceiptHandle, e.VisibilityTimeout, now)
	})
}
