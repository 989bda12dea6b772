package mosquittoconf

import "strings"

// Scope says which object an option configures.
type Scope int

// Scopes, as mosquitto 2.0's conf.c assigns them.
const (
	ScopeGlobal   Scope = iota // the broker as a whole
	ScopeListener              // the most recent `listener` (or the default listener)
	ScopeSecurity              // global, or per listener with per_listener_settings true
	ScopeBridge                // the most recent `connection`
)

// Kind says how mosquitto reads an option's value.
type Kind int

// Kinds of values.
const (
	KindString Kind = iota // rest of the line, blanks trimmed; a second one is an error
	KindBool               // next space-separated word: true, false, 1 or 0
	KindInt                // next space-separated word, read with atoi
	KindWords              // several words (listener, topic, address, log_dest...)
)

type option struct {
	scope Scope
	kind  Kind
}

// options lists every configuration variable mosquitto 2.0 accepts (from
// mosquitto.conf(5) and conf.c), with its scope and value kind. A name not
// in this table makes mosquitto refuse to start ("Unknown configuration
// variable"), so check reports it. A few names from 2.1 are included so a
// newer config is not reported as broken.
var options = map[string]option{
	// General options.
	"acl_file":                       {ScopeSecurity, KindString},
	"allow_anonymous":                {ScopeSecurity, KindBool},
	"allow_duplicate_messages":       {ScopeGlobal, KindBool},
	"allow_zero_length_clientid":     {ScopeSecurity, KindBool},
	"auth_plugin":                    {ScopeSecurity, KindString},
	"plugin":                         {ScopeSecurity, KindString},
	"global_plugin":                  {ScopeGlobal, KindString}, // 2.1
	"auth_plugin_deny_special_chars": {ScopeSecurity, KindBool},
	"auto_id_prefix":                 {ScopeSecurity, KindString},
	"autosave_interval":              {ScopeGlobal, KindInt},
	"autosave_on_changes":            {ScopeGlobal, KindBool},
	"check_retain_source":            {ScopeGlobal, KindBool},
	"clientid_prefixes":              {ScopeGlobal, KindString},
	"connection_messages":            {ScopeGlobal, KindBool},
	"include_dir":                    {ScopeGlobal, KindString},
	"log_dest":                       {ScopeGlobal, KindWords},
	"log_facility":                   {ScopeGlobal, KindInt},
	"log_timestamp":                  {ScopeGlobal, KindBool},
	"log_timestamp_format":           {ScopeGlobal, KindString},
	"log_type":                       {ScopeGlobal, KindWords},
	"max_inflight_bytes":             {ScopeGlobal, KindInt},
	"max_inflight_messages":          {ScopeGlobal, KindInt},
	"max_keepalive":                  {ScopeGlobal, KindInt},
	"max_packet_size":                {ScopeGlobal, KindInt},
	"max_queued_bytes":               {ScopeGlobal, KindInt},
	"max_queued_messages":            {ScopeGlobal, KindInt},
	"memory_limit":                   {ScopeGlobal, KindInt},
	"message_size_limit":             {ScopeGlobal, KindInt},
	"password_file":                  {ScopeSecurity, KindString},
	"per_listener_settings":          {ScopeGlobal, KindBool},
	"persistence":                    {ScopeGlobal, KindBool},
	"persistence_file":               {ScopeGlobal, KindString},
	"persistence_location":           {ScopeGlobal, KindString},
	"persistent_client_expiration":   {ScopeGlobal, KindWords},
	"pid_file":                       {ScopeGlobal, KindString},
	"psk_file":                       {ScopeSecurity, KindString},
	"queue_qos0_messages":            {ScopeGlobal, KindBool},
	"retain_available":               {ScopeGlobal, KindBool},
	"set_tcp_nodelay":                {ScopeGlobal, KindBool},
	"sys_interval":                   {ScopeGlobal, KindInt},
	"upgrade_outgoing_qos":           {ScopeGlobal, KindBool},
	"user":                           {ScopeGlobal, KindString},
	"websockets_headers_size":        {ScopeGlobal, KindInt},
	"websockets_log_level":           {ScopeGlobal, KindInt},

	// Listeners. port and bind_address configure the default listener.
	"listener":                 {ScopeGlobal, KindWords},
	"port":                     {ScopeListener, KindInt},
	"bind_address":             {ScopeListener, KindString},
	"accept_protocol_versions": {ScopeListener, KindWords}, // 2.1
	"bind_interface":           {ScopeListener, KindString},
	"http_dir":                 {ScopeListener, KindString},
	"max_connections":          {ScopeListener, KindInt},
	"max_qos":                  {ScopeListener, KindInt},
	"max_topic_alias":          {ScopeListener, KindInt},
	"mount_point":              {ScopeListener, KindString},
	"protocol":                 {ScopeListener, KindWords},
	"socket_domain":            {ScopeListener, KindWords},
	"use_username_as_clientid": {ScopeListener, KindBool},
	"websockets_origin":        {ScopeListener, KindString}, // 2.1
	// Certificate based TLS on a listener.
	"cafile":                   {ScopeListener, KindString},
	"capath":                   {ScopeListener, KindString},
	"certfile":                 {ScopeListener, KindString},
	"keyfile":                  {ScopeListener, KindString},
	"ciphers":                  {ScopeListener, KindString},
	"ciphers_tls1.3":           {ScopeListener, KindString},
	"crlfile":                  {ScopeListener, KindString},
	"dhparamfile":              {ScopeListener, KindString},
	"require_certificate":      {ScopeListener, KindBool},
	"tls_engine":               {ScopeListener, KindString},
	"tls_engine_kpass_sha1":    {ScopeListener, KindString},
	"tls_keyform":              {ScopeListener, KindWords},
	"tls_version":              {ScopeListener, KindString},
	"use_identity_as_username": {ScopeListener, KindBool},
	"use_subject_as_username":  {ScopeListener, KindBool},
	// Pre-shared-key TLS on a listener.
	"psk_hint": {ScopeListener, KindString},

	// Bridges: everything after `connection NAME` until the next one.
	"connection":                 {ScopeGlobal, KindString},
	"address":                    {ScopeBridge, KindWords},
	"addresses":                  {ScopeBridge, KindWords},
	"bridge_alpn":                {ScopeBridge, KindString},
	"bridge_attempt_unsubscribe": {ScopeBridge, KindBool},
	"bridge_bind_address":        {ScopeBridge, KindString},
	"bridge_cafile":              {ScopeBridge, KindString},
	"bridge_capath":              {ScopeBridge, KindString},
	"bridge_certfile":            {ScopeBridge, KindString},
	"bridge_identity":            {ScopeBridge, KindString},
	"bridge_insecure":            {ScopeBridge, KindBool},
	"bridge_keyfile":             {ScopeBridge, KindString},
	"bridge_max_packet_size":     {ScopeBridge, KindInt},
	"bridge_outgoing_retain":     {ScopeBridge, KindBool},
	"bridge_protocol_version":    {ScopeBridge, KindString},
	"bridge_psk":                 {ScopeBridge, KindString},
	"bridge_require_ocsp":        {ScopeBridge, KindBool},
	"bridge_tls_version":         {ScopeBridge, KindString},
	"cleansession":               {ScopeBridge, KindBool},
	"clientid":                   {ScopeBridge, KindString}, // old name of remote_clientid
	"idle_timeout":               {ScopeBridge, KindInt},
	"keepalive_interval":         {ScopeBridge, KindInt},
	"local_cleansession":         {ScopeBridge, KindBool},
	"local_clientid":             {ScopeBridge, KindString},
	"local_password":             {ScopeBridge, KindString},
	"local_username":             {ScopeBridge, KindString},
	"notification_topic":         {ScopeBridge, KindString},
	"notifications":              {ScopeBridge, KindBool},
	"notifications_local_only":   {ScopeBridge, KindBool},
	"password":                   {ScopeBridge, KindString}, // old name of remote_password
	"remote_clientid":            {ScopeBridge, KindString},
	"remote_password":            {ScopeBridge, KindString},
	"remote_username":            {ScopeBridge, KindString},
	"restart_timeout":            {ScopeBridge, KindWords},
	"round_robin":                {ScopeBridge, KindBool},
	"start_type":                 {ScopeBridge, KindWords},
	"threshold":                  {ScopeBridge, KindInt},
	"topic":                      {ScopeBridge, KindWords},
	"try_private":                {ScopeBridge, KindBool},
	"username":                   {ScopeBridge, KindString}, // old name of remote_username
}

// pluginOptionPrefixes start options whose names are free-form: a plugin
// reads plugin_opt_NAME (auth_opt_NAME is the old spelling).
var pluginOptionPrefixes = []string{"plugin_opt_", "auth_opt_"}

// lookup returns an option's description; plugin options are security
// strings.
func lookup(name string) (option, bool) {
	if o, ok := options[name]; ok {
		return o, true
	}
	for _, p := range pluginOptionPrefixes {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return option{ScopeSecurity, KindWords}, true
		}
	}
	return option{}, false
}

// ScopeOf returns the scope of a known option.
func ScopeOf(name string) (Scope, bool) {
	o, ok := lookup(name)
	return o.scope, ok
}
