// Typed, non-variadic wrappers around libcurl's variadic entry points, which Swift cannot call.
// One wrapper per argument type; each simply forwards to libcurl.
#ifndef CASTY_CCURL_SHIM_H
#define CASTY_CCURL_SHIM_H

#include <curl/curl.h>

typedef size_t (*casty_curl_data_callback)(char *data, size_t size, size_t count, void *userdata);
typedef int (*casty_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                            curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode casty_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode casty_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode casty_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode casty_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode casty_curl_easy_setopt_data_callback(CURL *handle, CURLoption option,
                                                            casty_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode casty_curl_easy_setopt_xferinfo_callback(CURL *handle, casty_curl_xferinfo_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}

static inline CURLcode casty_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode casty_curl_easy_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
