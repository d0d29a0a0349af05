#ifndef ANYVIZ_CCURL_SHIM_H
#define ANYVIZ_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt/getinfo are variadic: Swift cannot call them, so typed wrappers. */
static inline CURLcode anyviz_curl_setopt_long(CURL *c, CURLoption o, long v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode anyviz_curl_setopt_string(CURL *c, CURLoption o, const char *v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode anyviz_curl_setopt_pointer(CURL *c, CURLoption o, void *v) { return curl_easy_setopt(c, o, v); }
static inline CURLcode anyviz_curl_setopt_slist(CURL *c, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(c, o, v); }
typedef size_t (*anyviz_curl_write_cb)(char *, size_t, size_t, void *);
typedef int (*anyviz_curl_xfer_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode anyviz_curl_setopt_write(CURL *c, anyviz_curl_write_cb f) { return curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode anyviz_curl_setopt_xfer(CURL *c, anyviz_curl_xfer_cb f) { return curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, f); }
static inline CURLcode anyviz_curl_getinfo_long(CURL *c, CURLINFO i, long *v) { return curl_easy_getinfo(c, i, v); }
/* Response headers (Retry-After) and 64-bit sizes (POSTFIELDSIZE_LARGE, MAXFILESIZE_LARGE). */
static inline CURLcode anyviz_curl_setopt_header(CURL *c, anyviz_curl_write_cb f) { return curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, f); }
static inline CURLcode anyviz_curl_setopt_off(CURL *c, CURLoption o, curl_off_t v) { return curl_easy_setopt(c, o, v); }
/* Downloads check the address of every connection libcurl opens (redirects, DNS rebinding). */
typedef curl_socket_t (*anyviz_curl_opensocket_cb)(void *, curlsocktype, struct curl_sockaddr *);
static inline CURLcode anyviz_curl_setopt_opensocket(CURL *c, anyviz_curl_opensocket_cb f) { return curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, f); }
/* The socket address inside curl_sockaddr (its storage is larger than `struct sockaddr`). */
static inline const struct sockaddr *anyviz_curl_sockaddr(const struct curl_sockaddr *a) { return &a->addr; }
#endif
