package sensor

import "github.com/streamproc/streamproc/functions/eventtime"

// Micro is a quantity in millionths of its unit (micro-degrees Celsius for
// temperatures): the event-time engine's fixed-point value. Readings are
// converted to it on decode so that aggregate sums are exact integers and
// the stored windows do not depend on the order or the batch boundaries in
// which readings were applied. Values with more than six decimals are
// rounded half away from zero to six.
type Micro = eventtime.Fixed

// Scale is the number of Micro in one unit.
const Scale = eventtime.FixedScale
