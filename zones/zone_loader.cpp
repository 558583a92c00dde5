// Reading an RFC 1035 master file. We split the file into entries ourselves (parentheses,
// quotes, comments, directives, $INCLUDE) because ldns 1.8 skips $INCLUDE and reports only
// the line an entry ends on; ldns then parses each entry's text into wire-form RDATA, which
// is the part it does well for every record type.
#include "zones/zone_loader.hpp"

#include "zones/ldns_include.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "wire/constants.hpp"
#include "wire/name.hpp"

namespace meridian::zones {

namespace {

constexpr int kMaxIncludeDepth = 10;
constexpr uint32_t kMaxTtl = 0x7FFFFFFF;  // RFC 2181 §8

struct Entry {
    std::string text;  // one record or directive, parentheses and comments removed
    int line;          // where it starts
};

// Splits master-file text into entries (RFC 1035 §5.1). Returns false on unbalanced
// parentheses or an unterminated quote, with the line in `error_line`.
bool split_entries(const std::string& content, std::vector<Entry>& entries, int& error_line,
                   std::string& error) {
    int line = 1;
    int depth = 0;
    int depth_line = 0;
    bool in_quotes = false;
    int quote_line = 0;
    Entry current{{}, 1};
    auto flush = [&] {
        if (current.text.find_first_not_of(" \t\r") != std::string::npos)
            entries.push_back(std::move(current));
        current = Entry{{}, line};
    };
    for (size_t i = 0; i < content.size(); ++i) {
        const char c = content[i];
        if (c == '\\' && i + 1 < content.size()) {
            current.text += c;
            current.text += content[++i];
            if (content[i] == '\n') ++line;
            continue;
        }
        if (in_quotes) {
            if (c == '"') in_quotes = false;
            if (c == '\n') {
                error_line = quote_line;
                error = "unterminated quoted string";
                return false;
            }
            current.text += c;
            continue;
        }
        switch (c) {
            case '"':
                in_quotes = true;
                quote_line = line;
                current.text += c;
                break;
            case ';':
                while (i + 1 < content.size() && content[i + 1] != '\n') ++i;
                break;
            case '(':
                if (depth++ == 0) depth_line = line;
                current.text += ' ';
                break;
            case ')':
                if (--depth < 0) {
                    error_line = line;
                    error = "')' without '('";
                    return false;
                }
                current.text += ' ';
                break;
            case '\n':
                ++line;
                if (depth == 0) {
                    flush();
                } else {
                    current.text += ' ';
                }
                break;
            default:
                current.text += c;
        }
    }
    if (in_quotes) {
        error_line = quote_line;
        error = "unterminated quoted string";
        return false;
    }
    if (depth != 0) {
        error_line = depth_line;
        error = "'(' is never closed";
        return false;
    }
    flush();
    return true;
}

struct RdfDeleter {
    void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;

RdfPtr copy_rdf(const ldns_rdf* rdf) {
    return RdfPtr(rdf ? ldns_rdf_clone(rdf) : nullptr);
}

struct ParsedRecord {
    std::string owner;  // lowercase wire form
    uint16_t type;
    uint32_t ttl;
    std::string rdata;
    int line;
    uint16_t source;
};

class MasterFileReader {
  public:
    MasterFileReader(Diagnostics& diagnostics) : diagnostics_(diagnostics) {
        buffer_ = ldns_buffer_new(4096);
    }
    ~MasterFileReader() { ldns_buffer_free(buffer_); }

    // Reads `file` with the given starting origin; appends records.
    void read(const std::filesystem::path& file, RdfPtr origin, int depth);

    std::vector<ParsedRecord> records;
    std::vector<std::string> sources;  // file names, indexed by ParsedRecord::source
    std::string first_origin;          // first $ORIGIN seen, lowercase wire form

  private:
    void error(uint16_t source, int line, std::string message) {
        diagnostics_.push_back({sources[source], line, std::move(message), true});
    }

    Diagnostics& diagnostics_;
    ldns_buffer* buffer_;
    uint32_t default_ttl_ = 3600;
    bool has_default_ttl_ = false;
    RdfPtr previous_owner_;
};

std::string first_word(const std::string& text, size_t& pos) {
    const size_t start = text.find_first_not_of(" \t\r", pos);
    if (start == std::string::npos) {
        pos = text.size();
        return {};
    }
    const size_t end = text.find_first_of(" \t\r", start);
    pos = end == std::string::npos ? text.size() : end;
    return text.substr(start, pos - start);
}

// A name from a directive, relative to `origin` when not absolute.
RdfPtr directive_name(const std::string& text, const ldns_rdf* origin) {
    RdfPtr name(ldns_dname_new_frm_str(text.c_str()));
    if (!name) return nullptr;
    if (!ldns_dname_str_absolute(text.c_str())) {
        if (!origin) return nullptr;
        if (ldns_dname_cat(name.get(), origin) != LDNS_STATUS_OK) return nullptr;
    }
    return name;
}

std::string lowercase_wire(const ldns_rdf* name) {
    std::string wire(reinterpret_cast<const char*>(ldns_rdf_data(name)), ldns_rdf_size(name));
    wire::to_lower({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()},
                   reinterpret_cast<uint8_t*>(wire.data()));
    return wire;
}

void MasterFileReader::read(const std::filesystem::path& file, RdfPtr origin, int depth) {
    sources.push_back(file.string());
    const auto source = static_cast<uint16_t>(sources.size() - 1);
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        error(source, 0, "cannot open: " + std::string(std::strerror(errno)));
        return;
    }
    std::stringstream content;
    content << in.rdbuf();

    std::vector<Entry> entries;
    int error_line = 0;
    std::string split_error;
    if (!split_entries(content.str(), entries, error_line, split_error)) {
        error(source, error_line, split_error);
        return;
    }

    for (auto& entry : entries) {
        const int line = entry.line;
        if (entry.text[0] == '$') {
            size_t pos = 0;
            const std::string directive = first_word(entry.text, pos);
            const std::string argument = first_word(entry.text, pos);
            if (directive == "$ORIGIN") {
                RdfPtr name = directive_name(argument, origin.get());
                if (!name) {
                    error(source, line, "bad $ORIGIN '" + argument + "'");
                    continue;
                }
                origin = std::move(name);
                if (first_origin.empty()) first_origin = lowercase_wire(origin.get());
            } else if (directive == "$TTL") {
                const char* end = nullptr;
                const uint32_t ttl = ldns_str2period(argument.c_str(), &end);
                if (argument.empty() || (end && *end != '\0') || ttl > kMaxTtl) {
                    error(source, line, "bad $TTL '" + argument + "'");
                    continue;
                }
                default_ttl_ = ttl;
                has_default_ttl_ = true;
            } else if (directive == "$INCLUDE") {
                if (argument.empty()) {
                    error(source, line, "$INCLUDE needs a file name");
                    continue;
                }
                if (depth >= kMaxIncludeDepth) {
                    error(
                        source, line,
                        "$INCLUDE nested more than " + std::to_string(kMaxIncludeDepth) + " deep");
                    continue;
                }
                std::filesystem::path included(argument);
                if (included.is_relative()) included = file.parent_path() / included;
                RdfPtr include_origin = copy_rdf(origin.get());
                const std::string origin_argument = first_word(entry.text, pos);
                if (!origin_argument.empty()) {
                    include_origin = directive_name(origin_argument, origin.get());
                    if (!include_origin) {
                        error(source, line, "bad $INCLUDE origin '" + origin_argument + "'");
                        continue;
                    }
                }
                // RFC 1035 §5.1: the included file's $ORIGIN does not leak back.
                read(included, std::move(include_origin), depth + 1);
            } else {
                error(source, line, "unsupported directive " + directive);
            }
            continue;
        }

        // A line starting with blank space continues the previous owner (RFC 1035 §5.1).
        std::string text = entry.text;
        if (text[0] == ' ' || text[0] == '\t') {
            if (!previous_owner_) {
                error(source, line, "record without an owner name");
                continue;
            }
            char* owner_text = ldns_rdf2str(previous_owner_.get());
            text = std::string(owner_text) + text;
            free(owner_text);
        }
        ldns_rr* rr = nullptr;
        ldns_rdf* previous = nullptr;
        const ldns_status status =
            ldns_rr_new_frm_str(&rr, text.c_str(), default_ttl_, origin.get(), &previous);
        if (previous) ldns_rdf_deep_free(previous);
        if (status != LDNS_STATUS_OK) {
            error(source, line, ldns_get_errorstr_by_id(status));
            if (rr) ldns_rr_free(rr);
            continue;
        }
        std::unique_ptr<ldns_rr, decltype(&ldns_rr_free)> record(rr, ldns_rr_free);
        const ldns_rdf* owner = ldns_rr_owner(rr);
        if (!ldns_dname_absolute(owner)) {
            error(source, line, "relative owner name with no $ORIGIN or zone origin");
            continue;
        }
        previous_owner_ = copy_rdf(owner);
        if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
            error(source, line, "only class IN is served");
            continue;
        }
        if (ldns_rr_ttl(rr) > kMaxTtl) {
            error(source, line, "TTL out of range (RFC 2181 §8: at most 2147483647)");
            continue;
        }
        const uint16_t type = static_cast<uint16_t>(ldns_rr_get_type(rr));
        if (type == wire::type::kOPT || type == wire::type::kTSIG || type == wire::type::kAXFR ||
            type == wire::type::kIXFR || type == wire::type::kANY) {
            error(source, line, "type " + std::to_string(type) + " cannot appear in a zone");
            continue;
        }
        ldns_buffer_clear(buffer_);
        if (ldns_rr_rdata2buffer_wire(buffer_, rr) != LDNS_STATUS_OK) {
            error(source, line, "cannot encode the record's data");
            continue;
        }
        std::string rdata(reinterpret_cast<const char*>(ldns_buffer_begin(buffer_)),
                          ldns_buffer_position(buffer_));
        if (rdata.size() > 65535) {
            error(source, line, "record data longer than 65535 octets");
            continue;
        }
        records.push_back(
            {lowercase_wire(owner), type, ldns_rr_ttl(rr), std::move(rdata), line, source});
    }
}

}  // namespace

ZoneLoadResult load_zone_file(const std::filesystem::path& file, std::string_view origin) {
    ZoneLoadResult result;
    RdfPtr origin_rdf;
    if (!origin.empty()) {
        const std::string text(origin);
        origin_rdf.reset(ldns_dname_new_frm_str(text.c_str()));
        if (!origin_rdf || !ldns_dname_str_absolute(text.c_str())) {
            result.diagnostics.push_back(
                {file.string(), 0, "origin '" + text + "' is not an absolute name", true});
            return result;
        }
    }
    std::string origin_wire = origin_rdf ? lowercase_wire(origin_rdf.get()) : std::string();

    MasterFileReader reader(result.diagnostics);
    reader.read(file, copy_rdf(origin_rdf.get()), 0);
    result.files = reader.sources;
    if (has_errors(result.diagnostics)) return result;

    if (origin_wire.empty()) origin_wire = reader.first_origin;
    if (origin_wire.empty()) {
        for (const auto& record : reader.records) {
            if (record.type == wire::type::kSOA) {
                origin_wire = record.owner;
                break;
            }
        }
    }
    if (origin_wire.empty()) {
        result.diagnostics.push_back(
            {file.string(), 0, "no origin: set one in the config, by $ORIGIN, or by an SOA", true});
        return result;
    }

    ZoneBuilder builder(origin_wire, reader.sources[0]);
    for (size_t i = 1; i < reader.sources.size(); ++i) builder.add_source(reader.sources[i]);
    for (auto& record : reader.records)
        builder.add_record(record.owner, record.type, record.ttl, std::move(record.rdata),
                           record.line, record.source);
    result.zone = builder.finish(result.diagnostics);
    return result;
}

}  // namespace meridian::zones
